/** LOCALD_TRACE=1: timing marks on stderr, for finding where start-up and builds spend time. */
const on = (() => {
  try {
    return !!Deno.env.get("LOCALD_TRACE");
  } catch {
    return false;
  }
})();
const t0 = performance.now();

export function trace(label: string) {
  if (on) console.error(`trace ${(performance.now() - t0).toFixed(1).padStart(7)} ms  ${label}`);
}
