/**
 * The nemesis: on a schedule drawn from the seed, it kills -9 and SIGSTOPs service instances, kills
 * one NATS node at a time, kills PostgreSQL, and kills whichever instance holds a relay's leader
 * lock. The runner restarts what dies; the nemesis leaves each target alone until it is back, and
 * never hits one target so often that the runner's restart budget (5 deaths a minute) gives up.
 */
import { uniformInt } from "pure-rand/distribution/uniformInt";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { alive } from "../test/up-process.js";
import { SERVICES, type ChaosSystem } from "./system.js";

export const FAULT_KINDS = [
  "kill-instance",
  "pause-instance",
  "kill-nats-node",
  "kill-postgres",
  "kill-relay-leader",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  readonly atMs: number;
  readonly kind: FaultKind;
  /** Which target: an index into the candidates, sorted by name (pids change, names do not). */
  readonly pick: number;
  /** How long a paused instance stays stopped. */
  readonly pauseMs: number;
}

export interface FaultDone {
  readonly atMs: number;
  readonly kind: FaultKind;
  readonly target: string;
  readonly pid: number;
  /** Why a scheduled fault was not injected (its target was still down, or hit too often). */
  readonly skipped?: string;
}

/** The seeded schedule: one fault every 3–7 s over `durationMs`, kinds in equal measure. */
export function schedule(rng: RandomGenerator, durationMs: number, firstMs = 3000): Fault[] {
  const faults: Fault[] = [];
  for (let at = firstMs; at < durationMs; at += uniformInt(rng, 3000, 7000))
    faults.push({
      atMs: at,
      kind: FAULT_KINDS[uniformInt(rng, 0, FAULT_KINDS.length - 1)]!,
      pick: uniformInt(rng, 0, 1000),
      pauseMs: uniformInt(rng, 1000, 4000),
    });
  return faults;
}

const PER_TARGET_PER_MINUTE = 2;
/** The runner names a service's instances `<service>`, `<service>-2`, … (runner/instances.ts). */
const isInstance = (name: string) => SERVICES.some((s) => name === s || name.startsWith(`${s}-`));
const isNatsNode = (name: string) => name.startsWith("nats");

export class Nemesis {
  readonly done: FaultDone[] = [];
  readonly #sys: ChaosSystem;
  readonly #paused = new Map<number, NodeJS.Timeout>();
  readonly #hits = new Map<string, number[]>();
  /** Targets killed and not yet seen back (a new live pid under their name). */
  readonly #down = new Map<string, number>();
  readonly #t0 = Date.now();

  constructor(sys: ChaosSystem) {
    this.#sys = sys;
  }

  async inject(f: Fault): Promise<void> {
    const tree = this.#sys.processes();
    for (const [name, pid] of this.#down)
      if (tree.get(name) !== pid && alive(tree.get(name) ?? -1)) this.#down.delete(name);
    const names = [...tree.keys()].sort();
    let candidates: string[];
    switch (f.kind) {
      case "kill-instance":
      case "pause-instance":
        candidates = names.filter(isInstance);
        break;
      case "kill-nats-node":
        // One node at a time: not while another is still coming back.
        candidates = [...this.#down.keys()].some(isNatsNode) ? [] : names.filter(isNatsNode);
        break;
      case "kill-postgres":
        candidates = names.filter((n) => n === "postgres");
        break;
      case "kill-relay-leader":
        candidates = await this.#relayLeaders();
        break;
    }
    const target = candidates.length ? candidates[f.pick % candidates.length]! : undefined;
    const pid = target === undefined ? undefined : tree.get(target);
    const at = Date.now() - this.#t0;
    const skip = (why: string): void => {
      this.done.push({ atMs: at, kind: f.kind, target: target ?? "-", pid: pid ?? 0, skipped: why });
    };
    if (target === undefined || pid === undefined) return skip("no target up");
    if (this.#down.has(target) || this.#paused.has(pid) || !alive(pid)) return skip("target still down");
    const now = Date.now();
    const hits = (this.#hits.get(target) ?? []).filter((t) => now - t < 60_000);
    if (hits.length >= PER_TARGET_PER_MINUTE) return skip("hit twice this minute");
    this.#hits.set(target, [...hits, now]);
    if (f.kind === "pause-instance") {
      process.kill(pid, "SIGSTOP");
      this.#paused.set(
        pid,
        setTimeout(() => this.#resume(pid), f.pauseMs),
      );
    } else {
      process.kill(pid, "SIGKILL");
      this.#down.set(target, pid);
    }
    this.done.push({ atMs: at, kind: f.kind, target, pid });
  }

  /** Instances whose /metrics say they hold their database's relay leader lock. */
  async #relayLeaders(): Promise<string[]> {
    const leaders: string[] = [];
    for (const s of SERVICES)
      for (const [k, url] of this.#sys.urls(s).entries()) {
        const text = await fetch(`${url}/metrics`, {
          headers: { authorization: `Bearer ${this.#sys.operatorToken}` },
          signal: AbortSignal.timeout(2000),
        }).then(
          (r) => r.text(),
          () => "",
        );
        // Instance k (from 0) is `<service>` then `<service>-<k+1>`, on port + 100·k.
        if (/^orderflow_relay_leader(\{[^}]*\})? 1$/m.test(text)) leaders.push(k === 0 ? s : `${s}-${k + 1}`);
      }
    return leaders;
  }

  #resume(pid: number): void {
    clearTimeout(this.#paused.get(pid));
    this.#paused.delete(pid);
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone meanwhile
    }
  }

  /** Ends every fault still in force: paused instances continue. */
  heal(): void {
    for (const pid of [...this.#paused.keys()]) this.#resume(pid);
  }

  get injected(): number {
    return this.done.filter((d) => !d.skipped).length;
  }
}
