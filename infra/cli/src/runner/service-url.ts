/** Where a service listening on `host` is reached from this machine (0.0.0.0 and :: via loopback). */
export function serviceUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}
