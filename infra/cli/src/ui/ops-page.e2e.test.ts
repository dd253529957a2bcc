import { existsSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { catalog } from "@orderflow/contracts";
import { newEventId } from "@orderflow/events";
import { natsInboxPrefix, OPERATOR_IDENTITY } from "@orderflow/host";
import { freePort, waitFor } from "@orderflow/testing";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "../http.js";
import type { OpsOverview } from "./ops-api.js";
import {
  assertBuilt,
  cleanEnv,
  CliProcess,
  killAll,
  readProcessTree,
  REPO_ROOT,
} from "../../test/up-process.js";

// The ops page of `orderflow up` (what `npm start` runs), in Debian's chromium driven by
// playwright-core: the four services on their spawned nats-server (a NATS user each) and embedded
// PostgreSQL, the page served by the runner on its ORDERFLOW_UI_PORT.

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = join(REPO_ROOT, "test-artifacts", "ops-page.png");
const SERVICES = ["order", "inventory", "billing", "saga"] as const;
const PAGE_TIMEOUT_MS = 20_000;

describe("the ops page, in a browser, on the system `orderflow up` runs", () => {
  let tmp: string;
  let dataDir: string;
  let runner: CliProcess;
  let browser: Browser;
  let page: Page;
  const ports: Record<string, number> = {};
  const url = (service: string) => `http://127.0.0.1:${ports[service]}`;
  const credentials = () =>
    JSON.parse(readFileSync(join(dataDir, "credentials.json"), "utf8")) as {
      http: { operatorToken: string };
      nats: Record<string, { nkeySeed: string }>;
    };
  const row = (orderId: string, attrs = "") => page.locator(`tr[data-order-id="${orderId}"]${attrs}`);

  beforeAll(async () => {
    assertBuilt();
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run infra/system-packages.sh`);
    tmp = mkdtempSync(join(tmpdir(), "orderflow-ops-page-"));
    chmodSync(tmp, 0o755); // the embedded PostgreSQL runs as `postgres` when we are root
    dataDir = join(tmp, "data");
    for (const name of [...SERVICES, "ui"]) ports[name] = await freePort();
    runner = new CliProcess(
      ["up", "--data-dir", dataDir],
      cleanEnv({
        ...Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_PORT`, String(ports[s])])),
        ORDERFLOW_UI_PORT: String(ports.ui),
      }),
    );
    await runner.line(/^orderflow: ready in [\d.]+ s/, 60_000);
    expect(runner.stdout).toContain(
      `  ops page  ${url("ui")}  (loopback only; redrive asks for the operator token)`,
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(url("ui"));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (runner && runner.child.exitCode === null && runner.child.signalCode === null) {
      runner.child.kill("SIGTERM");
      const stopped = await waitFor(
        "the runner to stop",
        () => runner.child.exitCode !== null || runner.child.signalCode !== null,
        { timeoutMs: 15_000 },
      ).then(
        () => true,
        () => false,
      );
      if (!stopped) killAll([runner.pid, ...readProcessTree(dataDir).values()]);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  const placeOrder = async (customerId: string, sku: string, quantity: number): Promise<string> => {
    const res = await request<{ orderId: string }>("POST", `${url("order")}/orders`, {
      customerId,
      items: [{ sku, quantity }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.orderId;
  };

  it("shows an order placed now, live, until its saga is CONFIRMED; its timeline on a click", async () => {
    const orderId = await placeOrder("alice", "sku-apple", 2);
    await row(orderId, '[data-status="CONFIRMED"][data-saga="CONFIRMED"]').waitFor({
      timeout: PAGE_TIMEOUT_MS,
    });
    await expect(row(orderId).innerText()).resolves.toMatch(/alice\s+2 × sku-apple\s+3\.00 USD/);

    await row(orderId).click();
    const timeline = page.locator(`[data-timeline="${orderId}"]`);
    await timeline.waitFor({ timeout: PAGE_TIMEOUT_MS });
    const entries = await timeline.locator("li .event").allInnerTexts();
    expect(entries[0]).toBe("order.created");
    expect(entries.at(-1)).toBe("order.confirmed");
    expect(entries).toEqual(expect.arrayContaining(["inventory.reserved", "payment.charged"]));
    // Each transition with its time since the order was placed.
    const offsets = await timeline.locator("li .offset").allInnerTexts();
    expect(offsets).toHaveLength(entries.length);
    for (const offset of offsets) expect(offset).toMatch(/^\+\d+(\.\d)? m?s$/);
  }, 60_000);

  it("shows a failed order's compensation: out of stock after billing charged, so the charge is refunded", async () => {
    // bob can pay 5 × sku-rare (45.00 of his 50.00); there is 1 in stock.
    const orderId = await placeOrder("bob", "sku-rare", 5);
    await row(orderId, '[data-status="CANCELLED"][data-saga="CANCELLED"]').waitFor({
      timeout: PAGE_TIMEOUT_MS,
    });
    await row(orderId).click();
    const timeline = page.locator(`[data-timeline="${orderId}"]`);
    await timeline.waitFor({ timeout: PAGE_TIMEOUT_MS });
    expect(await timeline.locator(".timeline-head").innerText()).toMatch(/CANCELLED — out of stock/);
    const entry = (event: string) =>
      timeline.locator("li", { has: page.locator(".event", { hasText: new RegExp(`^${event}$`) }) });
    await expect(entry("inventory\\.rejected").getAttribute("class")).resolves.toBe("entry failure");
    // Whichever came first, the charge is undone: the saga asks for the refund, billing answers it.
    const asked = timeline.locator("li", {
      has: page.locator(".sent", { hasText: "payment.refund.requested" }),
    });
    await expect(asked.locator(".tag").textContent()).resolves.toBe("compensation requested");
    await expect(entry("payment\\.refunded").locator(".tag").textContent()).resolves.toBe("compensated");
    expect(await row(orderId).locator(".steps").innerText()).toMatch(
      /inventory\s+REJECTED[\s\S]*payment\s+REFUNDED/,
    );
  }, 60_000);

  it("lists a dead letter with its reason; the redrive needs the operator token, then works from the page", async () => {
    // An approval for an order the order service never took: it can never apply, so it is dead-lettered.
    const ghost = `ghost-${newEventId()}`;
    const eventId = newEventId();
    const nc = await connect({
      servers: (JSON.parse(readFileSync(join(dataDir, "servers.json"), "utf8")) as { natsUrl: string })
        .natsUrl,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(credentials().nats.operator!.nkeySeed)),
      inboxPrefix: natsInboxPrefix(OPERATOR_IDENTITY),
    });
    try {
      const e = catalog.encode(
        "order.approve.requested",
        { orderId: ghost },
        { id: eventId, source: "/orderflow/saga", time: new Date(), correlationId: ghost },
      );
      const h = natsHeaders();
      for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
      await jetstream(nc).publish(e.subject, e.data, { headers: h });
    } finally {
      await nc.close();
    }
    const letter = page.locator(`tr[data-event-id="${eventId}"]`);
    await letter.waitFor({ timeout: PAGE_TIMEOUT_MS });
    const id = Number(await letter.getAttribute("data-letter-id"));
    expect(await letter.innerText()).toContain(`unknown order ${ghost}`);
    expect(await letter.locator("td.mono").allInnerTexts()).toEqual([
      String(id),
      "order",
      "saga.order.approve",
    ]);

    // No operator power without the token: the button is off, and the server refuses the POST itself.
    const redrive = letter.getByRole("button", { name: "Redrive" });
    expect(await redrive.isDisabled()).toBe(true);
    const post = (authorization?: string) =>
      page.request.post(`${url("ui")}/api/dead-letters/${id}/redrive`, {
        headers: authorization ? { authorization } : {},
      });
    expect((await post()).status()).toBe(401);
    expect((await post("Bearer not-the-operator-token")).status()).toBe(403);
    const badId = await page.request.post(`${url("ui")}/api/dead-letters/first/redrive`, {
      headers: { authorization: `Bearer ${credentials().http.operatorToken}` },
    });
    expect(badId.status()).toBe(400);
    expect(((await badId.json()) as { issues: { path: string }[] }).issues[0]?.path).toBe("id");

    const tokenField = page.getByLabel("operator token");
    await tokenField.fill("not-the-operator-token");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.locator(".operator .error-text", { hasText: "operator token rejected" }).waitFor({
      timeout: PAGE_TIMEOUT_MS,
    });
    await tokenField.fill(credentials().http.operatorToken);
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.locator(".operator .badge", { hasText: "operator" }).waitFor({ timeout: PAGE_TIMEOUT_MS });

    await redrive.click();
    await page
      .locator(".notice.ok", { hasText: `letter ${id} redriven to saga.order.approve` })
      .waitFor({ timeout: PAGE_TIMEOUT_MS });
    await page.locator(`tr[data-letter-id="${id}"]`).waitFor({ state: "detached", timeout: PAGE_TIMEOUT_MS });
    // Delivered to the order service again, which still knows no such order: dead-lettered anew, same event.
    const again = page.locator(`tr[data-event-id="${eventId}"]`);
    await again.waitFor({ timeout: PAGE_TIMEOUT_MS });
    expect(Number(await again.getAttribute("data-letter-id"))).toBeGreaterThan(id);
  }, 60_000);

  it("answers on loopback only: a request naming another host is refused", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: ports.ui, path: "/api/overview", headers: { host: "attacker.example" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it("`orderflow ui` beside it serves the same page, as the operator, from the running system's files", async () => {
    const port = await freePort();
    const ui = new CliProcess(
      ["ui"],
      cleanEnv({
        ORDERFLOW_DATA_DIR: dataDir,
        ORDERFLOW_UI_PORT: String(port),
        SAGA_PORT: String(ports.saga),
      }),
    );
    try {
      await ui.line(
        new RegExp(`^orderflow ui: the ops page is at http://127\\.0\\.0\\.1:${port} \\(loopback only\\)`),
      );
      const overview = await waitFor(
        "the orders with their sagas",
        async () => {
          const r = await request<OpsOverview>("GET", `http://127.0.0.1:${port}/api/overview`);
          return r.body.orders?.some((o) => o.saga?.state === "CONFIRMED") ? r.body : undefined;
        },
        { timeoutMs: PAGE_TIMEOUT_MS },
      );
      expect(overview.errors).toEqual([]);
      expect(overview.outbox.map((o) => o.service)).toEqual([...SERVICES]);
      expect(overview.consumers.map((c) => `${c.stream}/${c.consumer}`)).toContain("ORDERS/inventory");
      const operator = await request("GET", `http://127.0.0.1:${port}/api/operator`, undefined, {
        headers: { authorization: `Bearer ${credentials().http.operatorToken}` },
      });
      expect(operator.status).toBe(204);
    } finally {
      ui.child.kill("SIGTERM");
    }
    expect(await ui.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it("keeps a screenshot of the page as a test artifact", async () => {
    // One more failure kind for the picture: a declined payment, whose stock reservation is released.
    const declined = await placeOrder("carol-low", "sku-pear", 1);
    await row(declined, '[data-saga="CANCELLED"]').waitFor({ timeout: PAGE_TIMEOUT_MS });
    await row(declined).click();
    await page.locator(`[data-timeline="${declined}"]`).waitFor({ timeout: PAGE_TIMEOUT_MS });
    mkdirSync(join(REPO_ROOT, "test-artifacts"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  }, 60_000);
});
