/**
 * LOCALD_TRACE=1: timing marks on stderr, for finding where start-up and builds spend time.
 * Milliseconds since the process started (Deno's own start-up and module loading included).
 */
const on = (() => {
  try {
    return !!Deno.env.get("LOCALD_TRACE");
  } catch {
    return false;
  }
})();

export function trace(label: string) {
  if (on) console.error(`trace ${performance.now().toFixed(1).padStart(7)} ms  ${label}`);
}
