import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `<data dir>/credentials.json`: the secrets of a local run, by section (`http`, `postgres`; `nats`
 * later), mode 0600. Written only through `writeCredentials`, which keeps the other sections.
 */
export const CREDENTIALS_FILE = "credentials.json";

export interface Credentials {
  readonly http?: { readonly operatorToken: string };
  /** Each service's database URL with its own role, by service name, and the operator's under `@operator`. */
  readonly postgres?: Readonly<Record<string, string>>;
  readonly [section: string]: unknown;
}

/** The file's content; `{}` when it does not exist. A file that is not a JSON object throws. */
export function readCredentials(dataDir: string): Credentials {
  const path = join(dataDir, CREDENTIALS_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`${path} is not a JSON object`);
  return parsed as Credentials;
}

/** Merges `sections` into the file (replacing those sections only), atomically, mode 0600. */
export function writeCredentials(dataDir: string, sections: Partial<Credentials>): Credentials {
  const merged = { ...readCredentials(dataDir), ...sections };
  const path = join(dataDir, CREDENTIALS_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return merged;
}

/** The operator token of the run: the one kept in the file, or a new one (32 random bytes, base64url) saved there. */
export function ensureOperatorToken(dataDir: string): string {
  const kept = readCredentials(dataDir).http?.operatorToken;
  if (typeof kept === "string" && kept.length > 0) return kept;
  const operatorToken = randomBytes(32).toString("base64url");
  writeCredentials(dataDir, { http: { operatorToken } });
  return operatorToken;
}
