/** Whether `p` resolves within `ms`: false when it rejects or is still pending then (a late answer is ignored). */
export function succeedsWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const settle = (ok: boolean) => {
      clearTimeout(timer);
      resolve(ok);
    };
    p.then(
      () => settle(true),
      () => settle(false),
    );
  });
}
