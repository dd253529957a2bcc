/** A resettable wake-up: `wait(ms)` resolves on `wake()` or after `ms`, whichever comes first. */
export class Wake {
  #pending: (() => void) | undefined;
  #woken = false;

  wake(): void {
    this.#woken = true;
    this.#pending?.();
  }

  wait(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#pending = undefined;
        this.#woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#pending = done;
    });
  }
}
