import type { JetStreamManager, StreamConfig, StreamInfo } from "@nats-io/jetstream";
import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { deadLetterStream, type StreamSpec } from "@orderflow/events";
import { OutboxError } from "./errors.js";

const NS = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Stream names and subjects as they are on the wire. A namespace (tests, multi-tenant servers)
 * prefixes both: stream `<ns>_ORDERS`, subject `<ns>.orders.order.created`.
 */
export class Topology {
  readonly namespace: string;
  constructor(namespace = "") {
    if (namespace && !NS.test(namespace))
      throw new OutboxError("BAD_CONFIG", `invalid NATS namespace "${namespace}"`);
    this.namespace = namespace;
  }
  subject(subject: string): string {
    return this.namespace ? `${this.namespace}.${subject}` : subject;
  }
  /** The catalog subject of a wire subject. */
  unprefix(subject: string): string {
    return this.namespace && subject.startsWith(`${this.namespace}.`)
      ? subject.slice(this.namespace.length + 1)
      : subject;
  }
  stream(name: string): string {
    return this.namespace ? `${this.namespace}_${name}` : name;
  }
  deadLetterSubject(consumer: string, originalSubject: string): string {
    return this.subject(`dlq.${consumer}.${this.unprefix(originalSubject)}`);
  }
  /** Where `dlq redrive` puts a letter of `consumer`: only that consumer's redrive durable reads it. */
  redriveSubject(consumer: string, originalSubject: string): string {
    return this.subject(`redrive.${consumer}.${this.unprefix(originalSubject)}`);
  }
  redriveFilter(consumer: string): string {
    return this.subject(`redrive.${consumer}.>`);
  }
  /** The dead letters' subjects, without the redriven ones. */
  get deadLetterFilter(): string {
    return this.subject("dlq.>");
  }
  get deadLetterStream(): string {
    return this.stream(deadLetterStream.name);
  }
}

/** Request/reply subject on which a running service accepts `pause` / `resume`. */
export const controlSubject = (topology: Topology, service: string): string =>
  topology.subject(`orderflow.control.${service}`);

export interface ProvisionOptions {
  readonly topology?: Topology;
  /** 1 on a single server, 3 on a cluster. */
  readonly replicas?: number;
  /** Must exceed how long a relay may retry one batch; JetStream drops re-published ids inside it. */
  readonly duplicateWindowMs?: number;
  /** The streams to provision, e.g. `catalog.streams`; the dead-letter stream is always added. */
  readonly streams: readonly StreamSpec[];
  /** The dead-letter stream's limits (default `DEFAULT_DEAD_LETTER_LIMITS`); the other streams keep all history. */
  readonly deadLetters?: DeadLetterLimits;
}

/**
 * Past either limit the oldest dead letters (and redrives not yet taken) are discarded. Keep the
 * age longer than anyone takes to look at a letter, and than a consumer stays down.
 */
export interface DeadLetterLimits {
  readonly maxAgeMs: number;
  readonly maxBytes: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = {
  maxAgeMs: 30 * 86_400_000,
  maxBytes: 1024 ** 3,
};

export type ProvisionAction = {
  stream: string;
  action: "created" | "updated" | "unchanged";
  changes?: string[];
};

const NANOS_PER_MS = 1_000_000;
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * Creates the given streams plus the dead-letter stream, or brings an existing one in
 * line where JetStream allows; drift it cannot apply (storage, retention) fails with the difference.
 * Applying twice changes nothing.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  opts: ProvisionOptions,
): Promise<ProvisionAction[]> {
  const topology = opts.topology ?? new Topology();
  const specs = [...opts.streams.filter((s) => s.name !== deadLetterStream.name), deadLetterStream];
  const actions: ProvisionAction[] = [];
  for (const spec of specs) {
    const want: Partial<StreamConfig> & { name: string } = {
      name: topology.stream(spec.name),
      subjects: spec.subjects.map((s) => topology.subject(s)),
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: opts.replicas ?? 1,
      duplicate_window: (opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS) * NANOS_PER_MS,
      ...(spec === deadLetterStream ? limitsOf(opts.deadLetters ?? DEFAULT_DEAD_LETTER_LIMITS) : {}),
    };
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(want.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!info) {
      await jsm.streams.add(want);
      actions.push({ stream: want.name, action: "created" });
      continue;
    }
    const have = info.config;
    const fixed = (["storage", "retention"] as const).filter((k) => have[k] !== want[k]);
    if (fixed.length) {
      throw new OutboxError(
        "STREAM_DRIFT",
        `stream ${want.name} differs in ${fixed.map((k) => `${k} (is ${have[k]}, want ${want[k]})`).join(", ")}, which JetStream cannot change; migrate it by hand`,
      );
    }
    const changes: string[] = [];
    if ([...have.subjects].sort().join() !== [...want.subjects!].sort().join()) changes.push("subjects");
    if (have.num_replicas !== want.num_replicas) changes.push("num_replicas");
    if (have.duplicate_window !== want.duplicate_window) changes.push("duplicate_window");
    if (have.discard !== want.discard) changes.push("discard");
    for (const k of ["max_age", "max_bytes"] as const)
      if (want[k] !== undefined && have[k] !== want[k]) changes.push(k);
    if (!changes.length) {
      actions.push({ stream: want.name, action: "unchanged" });
      continue;
    }
    try {
      await jsm.streams.update(want.name, { ...have, ...want });
    } catch (err) {
      throw new OutboxError(
        "STREAM_DRIFT",
        `stream ${want.name}: cannot apply ${changes.join(", ")}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    actions.push({ stream: want.name, action: "updated", changes });
  }
  return actions;
}

function limitsOf(l: DeadLetterLimits): Partial<StreamConfig> {
  return { max_age: l.maxAgeMs * NANOS_PER_MS, max_bytes: l.maxBytes };
}

export function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; message?: string; api_error?: { err_code?: number } };
  return (
    e?.api_error?.err_code === 10059 ||
    e?.api_error?.err_code === 10014 ||
    /not found/i.test(e?.message ?? "")
  );
}
