// What the recovery commands accept on their command line: times, sequences, --yes.
import { CliError } from "../errors.js";

/** Parses a time given as ISO 8601 or as a duration ago (`15m`, `2h`, `7d`). */
export function parseTime(value: string, option: string): Date {
  const ago = /^(\d+)(s|m|h|d)$/.exec(value);
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s" | "m" | "h" | "d"];
    return new Date(Date.now() - Number(ago[1]) * unit);
  }
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) {
    throw new CliError(
      "BAD_CONFIG",
      `${option}: "${value}" is not a time (ISO 8601 like 2026-01-31T12:00:00Z, or 15m / 2h / 7d ago)`,
    );
  }
  return new Date(t);
}

/** Like parseTime, for a start point: a time in the future would skip everything until then. */
export function parsePastTime(value: string, option: string): Date {
  const t = parseTime(value, option);
  if (t.getTime() > Date.now())
    throw new CliError("BAD_CONFIG", `${option}: ${t.toISOString()} is in the future`);
  return t;
}

export function parseSeq(value: string, option: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new CliError("BAD_CONFIG", `${option}: "${value}" is not a positive sequence number`);
  return Number(value);
}

export function requireYes(yes: boolean | undefined, what: string): void {
  if (!yes) throw new CliError("BAD_CONFIG", `${what} is destructive: add --yes to proceed`);
}
