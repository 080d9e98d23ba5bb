/**
 * Is the environment older than the sources? One line on stderr if so; never a rebuild.
 *
 * The check walks the source tree, which at 100k files takes far longer than starting a
 * command, so it never holds the command back: it walks a head start of HEAD_START entries
 * (all of a small project: there the line comes before the command starts, as always), or up
 * to the first directory that looks large (a node_modules/, or a src/ of hundreds of entries:
 * listing one takes a millisecond or more, see LARGE_DIR in tree_digest.ts), waits until the
 * command has run for LATER_MS, then goes on beside it and says its line when it finishes.
 * A command that ends first ends the check; the next longer command, or `locald build`, tells.
 * An interactive shell holds its prompt up to SHELL_HOLD_MS for the check, so on most trees the
 * line comes before the prompt rather than into it.
 */
import { formatAgo, type Output } from "../output.ts";
import { pacedTreeDigest } from "../util/tree_digest.ts";
import { trace } from "../util/trace.ts";
import type { DevEnv } from "./launch.ts";

/** Entries walked before the command starts: a few milliseconds. */
export const HEAD_START = 256;
/** Entries between turns of the event loop while the command runs (a fraction of a ms). */
const STRIDE = 64;
/** The rest waits this long after the command started: a quick command never meets it. */
const LATER_MS = 100;

export interface StaleCheck {
  /** Settles once the check is done or has used its head start. */
  headStart: Promise<void>;
  /** The whole check: true if it warned, false if not stale, undefined if stopped first. */
  done: Promise<boolean | undefined>;
  /** The command has started: the check may go on beside it. */
  started(): void;
  /** The command has ended: stop walking and say nothing more. */
  stop(): void;
}

/**
 * Starts the check. It walks HEAD_START entries, then for up to `holdMs` more (an interactive
 * shell: most trees are done before its prompt), before `headStart` settles.
 */
export function checkStale(d: DevEnv, out: Output, holdMs = 0): StaleCheck {
  const t0 = performance.now();
  const s = d.rec.sources;
  let stopped = false;
  let headStartDone!: () => void;
  const headStartP = new Promise<void>((r) => (headStartDone = r));
  let go!: () => void;
  const commandStarted = new Promise<void>((r) => (go = r));
  let wake: (() => void) | undefined;
  // The wait once the command has started, on the light timer (util/after.ts: setTimeout's
  // first use loads Deno's node:timers). Its module loads then, beside the command, not before.
  const later = async (ms: number) => {
    const { after } = await import("../util/after.ts");
    if (stopped) return;
    await new Promise<void>((r) => {
      const cancel = after(ms, true, r);
      wake = () => (cancel(), r());
    });
  };
  let resumed = false;
  let held = holdMs > 0;
  // A turn of the event loop (an operation, not a timer: nested timers wait 4 ms each): the
  // command's exit and signals are handled in between.
  const turn = () => Deno.lstat(d.projectDir).then(() => {}, () => {});
  // A record that holds the tree from before its phases: changes made before they ended are
  // the build's own (src/cnb/build.ts, settledSources).
  const track = s?.phasesEnd !== undefined ? { since: s.phasesEnd, changed: false } : undefined;
  const done = !s ? Promise.resolve(false) : pacedTreeDigest(
    d.projectDir,
    { gitignore: s.gitignore, exclude: s.exclude, include: s.include },
    {
      first: HEAD_START,
      every: STRIDE,
      pause: async () => {
        if (held && performance.now() - t0 < holdMs) {
          await turn();
          return stopped;
        }
        held = false;
        headStartDone();
        await commandStarted;
        if (!resumed && !stopped) await later(LATER_MS);
        resumed = true;
        await turn();
        return stopped;
      },
    },
    track,
  ).then((now) => {
    trace(`stale: check ${now === undefined ? "stopped" : "done"}`);
    if (now === undefined || stopped) return undefined;
    if (now === s.digest || (track && !track.changed)) return false;
    out.warn(
      `${d.projectDir} changed since its environment was built (${formatAgo(d.rec.builtAt)}); ` +
        "run `locald build` to update it",
    );
    return true;
  }, () => false);
  done.finally(headStartDone);
  return {
    headStart: headStartP,
    done,
    started: go,
    stop: () => {
      stopped = true;
      go();
      wake?.();
    },
  };
}

/** How long an interactive shell lets the check run before its prompt. */
export const SHELL_HOLD_MS = 300;

/**
 * Runs `command` with the check beside it (see above); `command` calls `started` once its
 * process runs. `holdMs`: see checkStale.
 */
export async function withStaleCheck<T>(
  d: DevEnv,
  out: Output,
  command: (started: () => void) => Promise<T>,
  holdMs = 0,
): Promise<T> {
  const check = checkStale(d, out, holdMs);
  await check.headStart;
  trace("stale: head start over");
  try {
    return await command(check.started);
  } finally {
    check.stop();
  }
}
