import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@orderflow/testing";

export const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = join(CLI_DIR, "dist", "bin.js");
export const REPO_ROOT = join(CLI_DIR, "..", "..");
/**
 * A system of one stand-in service: its config (test/fixtures/orderflow.config.mjs) and, beside it,
 * the service laid out as a built one (`services/inventory/dist/{index,main}.js`). Its sources live
 * in test/fixtures/stand-in-inventory; the copy sits in the package (git-ignored) so its imports
 * resolve from this workspace's node_modules.
 */
export const FIXTURE_SYSTEM = join(CLI_DIR, "test", ".generated");
export const FIXTURE_CONFIG = join(FIXTURE_SYSTEM, "orderflow.config.mjs");
const fixtures = join(CLI_DIR, "test", "fixtures");
const standIn = join(FIXTURE_SYSTEM, "services", "inventory");
mkdirSync(join(standIn, "dist"), { recursive: true });
cpSync(join(fixtures, "orderflow.config.mjs"), FIXTURE_CONFIG);
cpSync(join(fixtures, "stand-in-inventory", "package.json"), join(standIn, "package.json"));
for (const f of ["index.js", "main.js"])
  cpSync(join(fixtures, "stand-in-inventory", f), join(standIn, "dist", f));

export function assertBuilt(): void {
  if (!existsSync(BIN))
    throw new Error(`${BIN} is missing: build first (npx turbo run build --filter=@orderflow/cli)`);
}

/**
 * The environment of this process without the variables that point `up` at existing servers or at
 * another system's config.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (
      /^(NATS_URL|DATABASE_URL|\w+_PORT|\w+_DATABASE_URL|LOG_LEVEL|HOST|ORDERFLOW_\w+|OPERATOR_TOKEN\w*|RATE_LIMIT_\w+)$/.test(
        k,
      )
    )
      delete env[k];
  return { ...env, ...extra };
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** `node dist/bin.js <args>` as a child process, its output collected line by line. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  /** Like `exited`, once its output has been read to the end as well. */
  readonly closed: Promise<Exit>;
  #exit: Exit | undefined;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const collect = (into: string[]) => {
      let partial = "";
      return (chunk: Buffer) => {
        const parts = (partial + chunk.toString()).split("\n");
        partial = parts.pop() ?? "";
        into.push(...parts);
      };
    };
    this.child.stdout?.on("data", collect(this.stdout));
    this.child.stderr?.on("data", collect(this.stderr));
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      }),
    );
    this.closed = new Promise((resolve) =>
      this.child.once("close", (code: number | null, signal: NodeJS.Signals | null) =>
        resolve({ code, signal }),
      ),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits for a stdout line matching `re`; fails early, with the output, if the process exits first. */
  async line(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    try {
      return await waitFor(
        `a line matching ${re}`,
        () => {
          for (const l of this.stdout) {
            const m = re.exec(l);
            if (m) return m;
          }
          if (this.#exit) throw new Error(`exited (${JSON.stringify(this.#exit)}) first`);
          return undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n--- stdout\n${this.stdout.join("\n")}\n--- stderr\n${this.stderr.join("\n")}`,
        {
          cause: err,
        },
      );
    }
  }

  output(): string {
    return `--- stdout\n${this.stdout.join("\n")}\n--- stderr\n${this.stderr.join("\n")}`;
  }
}

/** Runs the bin to its end. */
export async function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Exit & { stdout: string[]; stderr: string[] }> {
  const p = new CliProcess(args, env);
  const exit = await p.exited;
  // 'exit' can come before the last output chunks.
  await new Promise<void>((resolve) =>
    p.child.stdout?.readableEnded && p.child.stderr?.readableEnded
      ? resolve()
      : p.child.once("close", () => resolve()),
  );
  return { ...exit, stdout: p.stdout.filter(Boolean), stderr: p.stderr.filter(Boolean) };
}

/** `<name> <pid>` lines of the runner's lock file (its first line, the runner, is `runner`). */
export function readProcessTree(dataDir: string): Map<string, number> {
  const tree = new Map<string, number>();
  const file = join(dataDir, "orderflow.pid");
  if (!existsSync(file)) return tree;
  const [first, ...rest] = readFileSync(file, "utf8").trim().split("\n");
  tree.set("runner", Number(first));
  for (const line of rest) {
    const [name, pid] = line.split(" ");
    if (name && pid) tree.set(name, Number(pid));
  }
  return tree;
}

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** Live processes whose command line contains `text` (Linux: /proc); undefined where we cannot tell. */
export function pidsMentioning(text: string): number[] | undefined {
  if (!existsSync("/proc/self/cmdline")) return undefined;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").includes(text);
      } catch {
        return false; // exited while we looked
      }
    })
    .filter(alive);
}
