import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../test/up-process.js";

const OBSERVABILITY = join(REPO_ROOT, "infra", "observability");

/** Runs promtool (installed by infra/system-packages.sh) in infra/observability. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, { cwd: OBSERVABILITY, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("infra/observability: Prometheus config and alert rules", () => {
  it("promtool check rules: the alert rules are valid", () => {
    const r = promtool("check", "rules", "alerts.yml");
    expect(r.output).toContain("SUCCESS: 5 rules found");
    expect(r.status).toBe(0);
  });

  it("promtool check config: prometheus.yml and the rule files it names are valid", () => {
    const r = promtool("check", "config", "prometheus.yml");
    expect(r.status, r.output).toBe(0);
  });

  it("promtool test rules: each alert fires on its series, and stays silent on those that must not page", () => {
    const r = promtool("test", "rules", "alerts.test.yml");
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });

  it("every alert of alerts.yml has a unit test where it fires and one where it stays silent", () => {
    const rules = parse(readFileSync(join(OBSERVABILITY, "alerts.yml"), "utf8")) as {
      groups: { rules: { alert: string }[] }[];
    };
    const tests = parse(readFileSync(join(OBSERVABILITY, "alerts.test.yml"), "utf8")) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length).map((a) => a.alertname),
      ),
    );
    const silent = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => !a.exp_alerts.length).map((a) => a.alertname),
      ),
    );
    for (const { alert } of rules.groups.flatMap((g) => g.rules)) {
      expect(firing, `${alert} fires in a test`).toContain(alert);
      expect(silent, `${alert} stays silent in a test`).toContain(alert);
    }
  });
});
