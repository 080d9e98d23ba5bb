/**
 * Calls `fire` after `ms` unless the function returned is called first. `light`: with
 * AbortSignal.timeout, not setTimeout, whose first use loads Deno's node:timers (about 20
 * modules, 4-10 ms of CPU) that a warm pull's requests (a HEAD, a token) and the dev commands
 * otherwise never need; that timer keeps the process alive only while its listener is
 * attached, and stays pending (unreferenced) until it expires, so it suits waits that happen a
 * few times, not per chunk of a large download.
 */
export function after(ms: number, light: boolean, fire: () => void): () => void {
  if (light) {
    const limit = AbortSignal.timeout(ms);
    limit.addEventListener("abort", fire);
    return () => limit.removeEventListener("abort", fire);
  }
  const t = setTimeout(fire, ms);
  return () => clearTimeout(t);
}
