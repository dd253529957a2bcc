import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

export interface StderrTailOptions {
  /** The file a child process writes its stderr to. */
  readonly file: string;
  /** Each complete line, as soon as it is read. */
  readonly onLine: (line: string) => void;
  /** How many of the last lines to keep for `lastLines()`. */
  readonly keep?: number;
  readonly intervalMs?: number;
  /** Where to start reading: a restarted service appends to the log of its previous run. */
  readonly fromOffset?: number;
}

/**
 * Follows a child's stderr written to a file. A file rather than a pipe: should the runner die, a
 * service that writes to a pipe nobody reads gets EPIPE and crashes, where it should be finishing
 * its in-flight work; a file always takes the write (and keeps the log for a post-mortem).
 */
export class StderrTail {
  readonly #opts: StderrTailOptions;
  readonly #fd: number;
  readonly #last: string[] = [];
  // A character split across two reads is decoded once both halves are in.
  readonly #decoder = new StringDecoder("utf8");
  #offset = 0;
  #partial = "";
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: StderrTailOptions) {
    this.#opts = opts;
    this.#fd = openSync(opts.file, "r");
    this.#offset = opts.fromOffset ?? 0;
    this.#timer = setInterval(() => this.drain(), opts.intervalMs ?? 100);
    this.#timer.unref();
  }

  /** Reads whatever was written since the last read. */
  drain(): void {
    if (this.#closed) return;
    const size = fstatSync(this.#fd).size;
    // Truncated under us (a new run reusing the file): start over.
    if (size < this.#offset) this.#offset = 0;
    if (size === this.#offset) return;
    const buf = Buffer.alloc(size - this.#offset);
    const n = readSync(this.#fd, buf, 0, buf.length, this.#offset);
    this.#offset += n;
    const parts = (this.#partial + this.#decoder.write(buf.subarray(0, n))).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) this.#line(line);
  }

  /** The last lines read (up to `keep`), oldest first. */
  lastLines(): readonly string[] {
    return [...this.#last];
  }

  /** Reads the rest, including an unterminated last line, and stops following. */
  close(): void {
    if (this.#closed) return;
    this.drain();
    const rest = this.#partial + this.#decoder.end();
    if (rest) this.#line(rest);
    this.#partial = "";
    clearInterval(this.#timer);
    this.#closed = true;
    closeSync(this.#fd);
  }

  #line(line: string): void {
    this.#opts.onLine(line);
    this.#last.push(line);
    if (this.#last.length > (this.#opts.keep ?? 20)) this.#last.shift();
  }
}
