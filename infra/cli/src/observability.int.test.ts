import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startService } from "@orderflow/host";
import { definition as saga } from "@orderflow/saga";
import { scrapeMetrics, testDatabase, testNats } from "@orderflow/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../test/up-process.js";

const OBSERVABILITY = join(REPO_ROOT, "infra", "observability");

const dashboard = JSON.parse(
  readFileSync(join(OBSERVABILITY, "grafana/dashboards/orderflow.json"), "utf8"),
) as { panels: { title: string; targets?: { expr: string }[] }[] };
const rules = parse(readFileSync(join(OBSERVABILITY, "alerts.yml"), "utf8")) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const queries = [
  ...dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
  ),
  ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
];
/** The metric names a PromQL expression reads (ours all start with `orderflow_`). */
const namesIn = (expr: string) => [...expr.matchAll(/\borderflow_[a-z0-9_]+/g)].map((m) => m[0]);

describe("the dashboard and the alert rules query metrics that exist", () => {
  it("every metric they name is exposed by a live service's /metrics, every orderflow_* metric is on the dashboard, promtool finds no fault in them", async () => {
    await using nats = await testNats();
    await using db = await testDatabase("saga");
    // The saga service exposes the runtime's metrics and the saga's own.
    const svc = await startService(saga, {
      env: { NATS_URL: nats.url, SAGA_DATABASE_URL: db.url, SAGA_PORT: "0" },
      logger: pino({ level: "silent" }),
    });
    try {
      const { declared, text } = await scrapeMetrics(svc.url);
      const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]));
      const exists = (name: string) =>
        declared.has(name) ||
        (/_(bucket|sum|count)$/.test(name) && histograms.has(name.replace(/_(bucket|sum|count)$/, "")));
      const named = queries.flatMap(({ where, expr }) => namesIn(expr).map((name) => ({ where, name })));
      expect(named.length).toBeGreaterThan(queries.length - 1);
      expect(named.filter(({ name }) => !exists(name))).toEqual([]);

      const onDashboard = new Set(
        dashboard.panels
          .flatMap((p) => (p.targets ?? []).flatMap((t) => namesIn(t.expr)))
          .map((n) => n.replace(/_(bucket|sum|count)$/, "")),
      );
      const ours = [...declared].filter((n) => n.startsWith("orderflow_"));
      expect(ours.filter((n) => !onDashboard.has(n))).toEqual([]);

      // The saga's own metrics pass promtool's lint too (the runtime's: host/src/metrics.int.test.ts).
      const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(lint.error).toBeUndefined();
      expect(`${lint.stdout}${lint.stderr}`.split("\n").filter((l) => l.startsWith("orderflow_"))).toEqual(
        [],
      );
    } finally {
      await svc.stop();
    }
  }, 30_000);
});
