import type { DemoOptions } from "./commands/demo.js";
import type { UpOptions } from "./commands/up.js";

// Every orderflow.config.ts imports this module for defineSystem, and every command loads the
// config: it stays light, so `up` and `demo` load their modules only when called.
export { defineSystem } from "./system/define-system.js";
export type { SeedData, ServiceDeclaration, SystemConfig } from "./system/define-system.js";
export { CliError, CliErrorCode, isCliError, exitCodeOf } from "./errors.js";
export type { DemoOptions, UpOptions };

/** `orderflow up` (see commands/up.ts); resolves with the exit code. */
export async function up(opts: UpOptions): Promise<number> {
  return (await import("./commands/up.js")).up(opts);
}

/** `orderflow demo` (see commands/demo.ts); resolves with the exit code. */
export async function demo(opts?: DemoOptions): Promise<number> {
  return (await import("./commands/demo.js")).demo(opts);
}
