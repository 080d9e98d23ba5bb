/**
 * Writing to locald's own stderr and stdout. A reader that goes away (`locald build 2>&1 |
 * head`) must not stop or damage the work: the first broken pipe closes that stream for the
 * rest of the run, quietly, and the work goes on. Light: on the exec/env hot path.
 */
const closed = { stdout: false, stderr: false };

/** Whether a stream's reader went away during this run. */
export function streamClosed(name: "stdout" | "stderr"): boolean {
  return closed[name];
}

/** Write all of `bytes`; a closed reader (broken pipe, or any write error) ends the stream. */
export function writeAll(name: "stdout" | "stderr", bytes: Uint8Array) {
  if (closed[name]) return;
  const stream = name === "stdout" ? Deno.stdout : Deno.stderr;
  try {
    for (let off = 0; off < bytes.length;) off += stream.writeSync(bytes.subarray(off));
  } catch {
    closed[name] = true;
  }
}

const enc = new TextEncoder();

export function writeText(name: "stdout" | "stderr", text: string) {
  writeAll(name, enc.encode(text));
}
