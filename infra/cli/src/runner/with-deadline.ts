export const TIMED_OUT = Symbol("timed out");

/** `p`'s value, or TIMED_OUT once `ms` have passed (the timer does not keep the process alive). */
export function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return Promise.race([
    p,
    new Promise<typeof TIMED_OUT>((resolve) => setTimeout(() => resolve(TIMED_OUT), ms).unref()),
  ]);
}
