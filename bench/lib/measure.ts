/**
 * Run a command under /usr/bin/time (wall time, CPU time, max RSS from the kernel) while sampling
 * its /proc status every 2 ms for the peak of its anonymous memory (RssAnon: what it allocated)
 * and of its file-backed pages (RssFile: mostly the program's own code). Max RSS is their sum at
 * the worst moment; a Deno program's code pages alone are 30-40 MiB, a Go tool's 7-15 MiB, so the
 * anonymous peak is the figure that follows what the program does with its data.
 */

export interface Measure {
  seconds: number;
  maxRssMiB: number;
  /** User + system CPU seconds. */
  cpu: number;
  /** Sampled peaks (MiB); 0 when the process ended before the first sample. */
  anonMiB: number;
  fileMiB: number;
}

function status(pid: number): Record<string, number> | undefined {
  try {
    const out: Record<string, number> = {};
    for (const line of Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")) {
      const m = line.match(/^(RssAnon|RssFile):\s+(\d+) kB/);
      if (m) out[m[1]] = Number(m[2]) / 1024;
    }
    return out;
  } catch {
    return undefined;
  }
}

function child(pid: number): number | undefined {
  try {
    const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return kids ? Number(kids.split(" ")[0]) : undefined;
  } catch {
    return undefined;
  }
}

export async function measure(cmd: string[], env: Record<string, string>): Promise<Measure> {
  const p = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%e %M %U %S", ...cmd],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let anon = 0;
  let file = 0;
  let running = true;
  const sampler = (async () => {
    let pid: number | undefined;
    while (running) {
      pid ??= child(p.pid);
      const s = pid ? status(pid) : undefined;
      if (s) {
        anon = Math.max(anon, s.RssAnon ?? 0);
        file = Math.max(file, s.RssFile ?? 0);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const res = await p.output();
  running = false;
  await sampler;
  const err = new TextDecoder().decode(res.stderr).trim().split("\n");
  if (!res.success) throw new Error(`${cmd.join(" ")} failed:\n${err.join("\n")}`);
  const [sec, kb, user, sys] = err[err.length - 1].split(" ").map(Number);
  return { seconds: sec, maxRssMiB: kb / 1024, cpu: user + sys, anonMiB: anon, fileMiB: file };
}
