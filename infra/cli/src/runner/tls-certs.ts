// tsyringe (under @peculiar/x509) needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { webcrypto, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { CliError } from "../errors.js";

/** Where `orderflow up --tls` keeps its certificates, in the data dir. Delete it to rotate them all. */
export const TLS_DIR = "tls";
/** The client certificate of the operator (the `orderflow` command, and the runner itself). */
export const TLS_OPERATOR = "operator";

/** A certificate and its private key (PEM files; the key mode 0600). */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TlsFiles {
  /** The throw-away CA every server and client trusts (`ca.crt`; its key `ca.key` signs new clients). */
  readonly ca: string;
  /** nats-server's and PostgreSQL's certificate: SAN 127.0.0.1, ::1 and localhost. */
  readonly server: CertFiles;
  /** One client certificate per service, by name, and the operator's under `operator`. */
  readonly clients: Readonly<Record<string, CertFiles>>;
}

type CryptoKey = webcrypto.CryptoKey;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const CA_DAYS = 3650;
const LEAF_DAYS = 825;

x509.cryptoProvider.set(webcrypto);

/**
 * The certificates of `orderflow up --tls` under `<data dir>/tls/`: made on first start (ECDSA
 * P-256, signed by a CA of their own), reused after. A client new to the run (a service added to
 * the config) gets its certificate from the kept CA. Private keys are mode 0600.
 */
export async function ensureTlsCertificates(
  dataDir: string,
  clients: readonly string[],
  opts: {
    /** Host names the server certificate names besides 127.0.0.1, ::1 and localhost (compose: `nats`, `postgres`). */
    readonly serverNames?: readonly string[];
  } = {},
): Promise<TlsFiles> {
  if (clients.includes(TLS_OPERATOR))
    throw new CliError(
      "BAD_CONFIG",
      `a service named "${TLS_OPERATOR}" would share the operator's TLS certificate`,
    );
  const dir = join(dataDir, TLS_DIR);
  const clientsDir = join(dir, "clients");
  mkdirSync(clientsDir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);

  const caFiles = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  const fresh = !existsSync(caFiles.cert) || !existsSync(caFiles.key);
  const ca = fresh ? await newCa(caFiles) : await loadCa(caFiles);

  const server = { cert: join(dir, "server.crt"), key: join(dir, "server.key") };
  const names = [...new Set(["localhost", ...(opts.serverNames ?? [])])];
  // A server certificate that does not name every host asked for is made anew (by the same CA).
  if (fresh || !existsSync(server.cert) || !existsSync(server.key) || !namesAll(server.cert, names))
    await issue(ca, server, "orderflow server", {
      san: [
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
        ...names.map((value) => ({ type: "dns" as const, value })),
      ],
      usage: "server",
    });

  const out: Record<string, CertFiles> = {};
  for (const name of new Set([...clients, TLS_OPERATOR])) {
    const files = { cert: join(clientsDir, `${name}.crt`), key: join(clientsDir, `${name}.key`) };
    if (fresh || !existsSync(files.cert) || !existsSync(files.key))
      await issue(ca, files, `orderflow ${name}`, { usage: "client" });
    out[name] = files;
  }
  return { ca: caFiles.cert, server, clients: out };
}

function namesAll(certFile: string, names: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return names.every((name) => cert.checkHost(name) !== undefined);
  } catch {
    return false;
  }
}

interface Ca {
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

async function newCa(files: CertFiles): Promise<Ca> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=orderflow local CA (throw-away)",
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + CA_DAYS * DAY),
    keys: keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await writeKey(files.key, keys.privateKey);
  writeAtomic(files.cert, cert.toString("pem"), 0o644);
  return { cert, key: keys.privateKey };
}

async function loadCa(files: CertFiles): Promise<Ca> {
  try {
    const cert = new x509.X509Certificate(readFileSync(files.cert, "utf8"));
    const der = x509.PemConverter.decodeFirst(readFileSync(files.key, "utf8"));
    const key = await webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
    return { cert, key: key };
  } catch (err) {
    throw new CliError(
      "BAD_CONFIG",
      `cannot read the TLS CA in ${files.cert} / ${files.key}; delete that directory to make new certificates`,
      { cause: err },
    );
  }
}

async function issue(
  ca: Ca,
  files: CertFiles,
  commonName: string,
  opts: { san?: x509.JsonGeneralNames; usage: "server" | "client" },
): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + LEAF_DAYS * DAY),
    signingKey: ca.key,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        [opts.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
      ...(opts.san ? [new x509.SubjectAlternativeNameExtension(opts.san, false)] : []),
    ],
  });
  await writeKey(files.key, keys.privateKey);
  writeAtomic(files.cert, cert.toString("pem"), 0o644);
}

async function writeKey(path: string, key: CryptoKey): Promise<void> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  writeAtomic(path, x509.PemConverter.encode(der, "PRIVATE KEY"), 0o600);
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content.endsWith("\n") ? content : `${content}\n`, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** A positive random 128-bit serial number, hex. */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

/** The nats.js `tls` options of a client of the run: the CA and that client's certificate. */
export function natsTlsOf(
  tls: TlsFiles,
  client: string,
): { caFile: string; certFile: string; keyFile: string } {
  const files = tls.clients[client]!;
  return { caFile: tls.ca, certFile: files.cert, keyFile: files.key };
}

/** What a service's environment gets for TLS to a nats-server of the run. */
export function natsTlsEnv(tls: TlsFiles, client: string): Record<string, string> {
  const { caFile, certFile, keyFile } = natsTlsOf(tls, client);
  return { NATS_TLS_CA: caFile, NATS_TLS_CERT: certFile, NATS_TLS_KEY: keyFile };
}

/**
 * `url` with the libpq TLS parameters node-postgres honours (pg-connection-string reads the files):
 * `sslmode=verify-full` (the server's certificate must chain to the CA and name the host),
 * `sslrootcert` the CA, `sslcert` / `sslkey` the client's certificate.
 */
export function postgresTlsUrl(url: string, tls: TlsFiles, client: string): string {
  const files = tls.clients[client]!;
  const u = new URL(url);
  u.searchParams.set("sslmode", "verify-full");
  u.searchParams.set("sslrootcert", tls.ca);
  u.searchParams.set("sslcert", files.cert);
  u.searchParams.set("sslkey", files.key);
  return u.toString();
}
