import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureTlsCertificates, TLS_OPERATOR } from "./tls-certs.js";

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), "orderflow-tls-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const cert = (path: string) => new X509Certificate(readFileSync(path));

describe("ensureTlsCertificates", () => {
  it("makes a CA, a server certificate for 127.0.0.1/localhost and a client certificate per service and the operator, keys 0600", async () => {
    const dir = tmp();
    const files = await ensureTlsCertificates(dir, ["order", "billing"]);
    const ca = cert(files.ca);
    expect(ca.ca).toBe(true);
    const server = cert(files.server.cert);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(server.checkHost("localhost")).toBe("localhost");
    expect(Object.keys(files.clients).sort()).toEqual(["billing", "operator", "order"]);
    for (const c of Object.values(files.clients)) {
      expect(cert(c.cert).verify(ca.publicKey)).toBe(true);
      expect(cert(c.cert).checkIssued(ca)).toBe(true);
      expect(statSync(c.key).mode & 0o777).toBe(0o600);
    }
    expect(statSync(files.server.key).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "tls", "ca.key")).mode & 0o777).toBe(0o600);
  });

  it("reuses what it made; a new service gets its certificate from the same CA", async () => {
    const dir = tmp();
    const first = await ensureTlsCertificates(dir, ["order"]);
    const caPem = readFileSync(first.ca, "utf8");
    const orderPem = readFileSync(first.clients.order!.cert, "utf8");
    const second = await ensureTlsCertificates(dir, ["order", "saga"]);
    expect(readFileSync(second.ca, "utf8")).toBe(caPem);
    expect(readFileSync(second.clients.order!.cert, "utf8")).toBe(orderPem);
    expect(cert(second.clients.saga!.cert).verify(cert(second.ca).publicKey)).toBe(true);
  });

  it("names the extra server host names asked for, making the server certificate anew when one is missing", async () => {
    const dir = tmp();
    const first = await ensureTlsCertificates(dir, []);
    expect(cert(first.server.cert).checkHost("nats")).toBeUndefined();
    const second = await ensureTlsCertificates(dir, [], { serverNames: ["nats", "postgres"] });
    for (const host of ["nats", "postgres", "localhost"])
      expect(cert(second.server.cert).checkHost(host)).toBe(host);
    expect(cert(second.server.cert).verify(cert(second.ca).publicKey)).toBe(true);
  });

  it(`refuses a service named "${TLS_OPERATOR}"`, async () => {
    await expect(ensureTlsCertificates(tmp(), [TLS_OPERATOR])).rejects.toThrow(/operator's TLS certificate/);
  });
});
