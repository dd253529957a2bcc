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
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#pending = undefined;
        self.#woken = false;
        resolve();
      }
      this.#pending = done;
    });
  }
}
