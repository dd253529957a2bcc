/**
 * The first failure of a drain round. Once there is one, nothing new is sent; the round lets what
 * is in flight settle and then throws it.
 */
export class RoundFailure {
  #failure: { err: unknown } | undefined;
  readonly #onFail: () => void;

  /** `onFail` runs at every failure reported, so that whoever waits wakes up and notices. */
  constructor(onFail: () => void) {
    this.#onFail = onFail;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Bound, so that it can be an event listener. */
  readonly fail = (err: unknown): void => {
    this.#failure ??= { err };
    this.#onFail();
  };

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err;
  }
}
