import { CliError } from "./errors.js";

/**
 * Where a command reaches a running service: `<NAME>_URL`, else `http://127.0.0.1:<port>` with its
 * port as `orderflow up` gives it (`<NAME>_PORT`, or its definition's default port).
 */
export function serviceBaseUrl(
  name: string,
  defaultPort: number,
  env: Record<string, string | undefined>,
): string {
  const prefix = name.toUpperCase();
  const given = env[`${prefix}_URL`];
  if (given) return checkedUrl(`${prefix}_URL`, given);
  return checkedUrl(`${prefix}_PORT`, `http://127.0.0.1:${env[`${prefix}_PORT`] || defaultPort}`);
}

/** `value` without its trailing slashes; anything but an http(s) URL is BAD_CONFIG naming `variable`. */
export function checkedUrl(variable: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
  } catch {
    throw new CliError("BAD_CONFIG", `${variable}: must be an http:// URL (got "${value}")`);
  }
  return value.replace(/\/+$/, "");
}
