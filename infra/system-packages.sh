#!/usr/bin/env bash
# Debian packages the test suite needs beyond Node: promtool (package prometheus) checks metrics,
# alert rules and their unit tests; chromium is the browser Playwright drives for the ops page.
# Installs only what is missing; `npm test` runs this first, so a fresh machine needs nothing by hand.
set -euo pipefail
declare -A wanted=([promtool]=prometheus [chromium]=chromium)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else
  echo "orderflow: the tests need the Debian packages ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
  exit 2
fi
echo "orderflow: installing Debian packages ${missing[*]}" >&2
install() { DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
# A machine whose package lists were never fetched cannot resolve the names: fetch them once and retry.
install || { "${as_root[@]}" apt-get update -q >/dev/null && install; }
