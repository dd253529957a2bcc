import cliProgress from "cli-progress";

/** Prints rows as an aligned table, or as JSON for scripts. */
export function print(rows: readonly object[], json: boolean, empty = "(none)"): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (!rows.length) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v === null || v === undefined
      ? "-"
      : typeof v === "object"
        ? JSON.stringify(v)
        : `${v as string | number | boolean}`;
  const widths = cols.map((c) =>
    Math.max(c.length, ...rows.map((r) => cell((r as Record<string, unknown>)[c]).length)),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(cols)}\n`);
  for (const r of rows)
    process.stdout.write(`${line(cols.map((c) => cell((r as Record<string, unknown>)[c])))}\n`);
}

/** A progress bar with rate and ETA on stderr (silent when stderr is not a terminal or with --json). */
export function progress(
  label: string,
  quiet: boolean,
): { update(done: number, total: number): void; stop(): void } {
  if (quiet || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let begun = false;
  return {
    update(done, total) {
      const rate = Math.round(done / Math.max((Date.now() - started) / 1000, 0.001));
      if (!begun) {
        bar.start(total, done, { rate });
        begun = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { rate });
      }
    },
    stop() {
      if (begun) bar.stop();
    },
  };
}
