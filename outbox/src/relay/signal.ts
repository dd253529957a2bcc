/** Resolves every current `wait()` at the next `notify()`. */
export class Signal {
  #waiters: (() => void)[] = [];

  /** Whether anyone waits for the next `notify()`. */
  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  notify(): void {
    if (!this.#waiters.length) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
