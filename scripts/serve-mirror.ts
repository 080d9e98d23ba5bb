/**
 * Serve a directory on 127.0.0.1 (a loopback release mirror), print its URL on stdout, and
 * keep serving until killed. Used by scripts/demo.sh to hand locald a locally built lifecycle
 * release through the real download-and-verify path.
 *
 *   deno run -A scripts/serve-mirror.ts DIR
 */
import { startMirror } from "../tests/support/mirror.ts";

const dir = Deno.args[0];
if (!dir) {
  console.error("usage: serve-mirror.ts DIR");
  Deno.exit(2);
}
const m = await startMirror(dir);
console.log(m.url);
const stop = () => m.close().then(() => Deno.exit(0));
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
