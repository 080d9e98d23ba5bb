/**
 * Human output goes to stderr, machine output (--json) to stdout. Colour only on a TTY and
 * never when NO_COLOR is set; progress bars only on a TTY, plain lines otherwise.
 */
import { writeText } from "./util/stdio.ts";

export interface Output {
  readonly color: boolean;
  readonly tty: boolean;
  info(line: string): void;
  warn(line: string): void;
  /** A phase header; call the returned function when the phase ends. */
  phase(name: string): (ok: boolean) => number;
  progress(label: string, total?: number): Progress;
  json(value: unknown): void;
}

export interface Progress {
  update(done: number): void;
  end(): void;
}

function writeErr(s: string) {
  writeText("stderr", s);
}

export function createOutput(env = Deno.env.toObject(), quiet = false): Output {
  const tty = Deno.stderr.isTerminal();
  const color = tty && !("NO_COLOR" in env) && env.TERM !== "dumb";
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  return {
    color,
    tty,
    info(line) {
      if (!quiet) writeErr(line + "\n");
    },
    warn(line) {
      writeErr(paint("33", "warning: ") + line + "\n");
    },
    phase(name) {
      const start = performance.now();
      if (!quiet) writeErr(paint("1;36", `===> ${name.toUpperCase()}`) + "\n");
      return (ok) => {
        const ms = performance.now() - start;
        if (!quiet) {
          writeErr(
            paint(ok ? "2" : "31", `     ${name} ${ok ? "done" : "failed"} in ${formatMs(ms)}`) +
              "\n",
          );
        }
        return ms;
      };
    },
    progress(label, total) {
      let last = 0;
      let lastPct = -1;
      return {
        update(done) {
          if (quiet) return;
          const now = performance.now();
          if (tty) {
            if (now - last < 80 && (!total || done < total)) return;
            last = now;
            const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
            const width = 24;
            const bar = pct === undefined
              ? ""
              : "[" + "#".repeat(Math.round((pct / 100) * width)).padEnd(width, ".") + "] ";
            writeErr(
              `\r\x1b[2K${label} ${bar}${formatBytes(done)}${
                total ? ` / ${formatBytes(total)}` : ""
              }`,
            );
          } else if (total) {
            // Non-TTY: a plain line at each quarter, no carriage returns.
            const pct = Math.floor((done / total) * 4) * 25;
            if (pct > lastPct) {
              lastPct = pct;
              writeErr(`${label}: ${pct}% of ${formatBytes(total)}\n`);
            }
          }
        },
        end() {
          if (!quiet && tty) writeErr("\r\x1b[2K");
        },
      };
    },
    json(value) {
      writeText("stdout", JSON.stringify(value, null, 2) + "\n");
    },
  };
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * How long ago an ISO time was, for people: "just now", "3 minutes ago", "2 days ago"; the
 * date itself after a month. (--json keeps the ISO time.)
 */
export function formatAgo(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const s = Math.round((now - then) / 1000);
  if (s < 0) return `at ${iso}`; // a clock that went back: say the time itself
  if (s < 10) return "just now";
  const units: [number, string][] = [[60, "second"], [60, "minute"], [24, "hour"], [31, "day"]];
  let v = s;
  for (const [size, name] of units) {
    if (v < size) return `${v} ${name}${v === 1 ? "" : "s"} ago`;
    v = Math.floor(v / size);
  }
  return `on ${iso.slice(0, 10)}`;
}
