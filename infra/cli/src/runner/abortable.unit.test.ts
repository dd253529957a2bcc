import { describe, expect, it } from "vitest";
import { abortable, untilAborted } from "./abortable.js";

describe("abortable", () => {
  it("settles as the work does while the signal is not aborted", async () => {
    const signal = new AbortController().signal;
    await expect(abortable(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error("boom")), signal)).rejects.toThrow("boom");
  });

  it("rejects with the abort's reason as soon as it aborts, or at once if it already has", async () => {
    const controller = new AbortController();
    const pending = abortable(new Promise(() => {}), controller.signal);
    const forever = untilAborted(controller.signal);
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
    await expect(forever).rejects.toThrow("stop");
    await expect(abortable(Promise.resolve(1), controller.signal)).rejects.toThrow("stop");
  });
});
