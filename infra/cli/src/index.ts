export { up } from "./commands/up.js";
export type { UpOptions } from "./commands/up.js";
export { demo, SCENARIOS } from "./commands/demo.js";
export type { DemoOptions } from "./commands/demo.js";
export { CliError, CliErrorCode, isCliError, exitCodeOf } from "./errors.js";
export { DEMO_ACCOUNTS, DEMO_STOCK } from "./runner/seed.js";
