import { headers, type Match, type MsgHdrs } from "@nats-io/nats-core";

/**
 * Message headers already in NATS wire format (`NATS/1.0␍␊k: v␍␊…␍␊`), sent as they are.
 *
 * The `headers` option of a publish is typed `MsgHdrs`, which declares no `encode()`; yet that is
 * all the client does with it when nothing else is asked of the publish: nats-core writes
 * `headers.encode()` into the HPUB frame as is, and JetStream's publish adds headers of its own
 * only for options the relay never passes (`msgID`, `expect`, `ttl`, schedules). So this class
 * implements the public interface and adds `encode()`. Reads decode a copy once, on demand (tests,
 * benchmarks); writes throw, since they could not reach the wire.
 *
 * @example
 * js.publish(subject, payload, { headers: new EncodedHeaders(block) });
 */
export class EncodedHeaders implements MsgHdrs {
  readonly #bytes: Uint8Array;
  #decoded: MsgHdrs | undefined;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The bytes as given: what the client sends. */
  encode(): Uint8Array {
    return this.#bytes;
  }

  get hasError(): boolean {
    return this.#view().hasError;
  }
  get status(): string {
    return this.#view().status;
  }
  get code(): number {
    return this.#view().code;
  }
  get description(): string {
    return this.#view().description;
  }
  get(k: string, match?: Match): string {
    return this.#view().get(k, match);
  }
  last(k: string, match?: Match): string {
    return this.#view().last(k, match);
  }
  has(k: string, match?: Match): boolean {
    return this.#view().has(k, match);
  }
  keys(): string[] {
    return this.#view().keys();
  }
  values(k: string, match?: Match): string[] {
    return this.#view().values(k, match);
  }
  [Symbol.iterator](): Iterator<[string, string[]]> {
    return this.#view()[Symbol.iterator]();
  }

  set(k: string, _v: string, _match?: Match): never {
    throw readOnly(k);
  }
  append(k: string, _v: string, _match?: Match): never {
    throw readOnly(k);
  }
  delete(k: string, _match?: Match): never {
    throw readOnly(k);
  }

  #view(): MsgHdrs {
    return (this.#decoded ??= decode(this.#bytes));
  }
}

const readOnly = (k: string): TypeError =>
  new TypeError(`EncodedHeaders are sent as encoded and cannot change (header "${k}")`);

/** The header lines; the status line is skipped, as a message being published has no status. */
function decode(bytes: Uint8Array): MsgHdrs {
  const h = headers();
  const [, ...lines] = new TextDecoder().decode(bytes).split("\r\n");
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) h.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return h;
}
