/**
 * How every dev command (shell, exec, run, env) starts: open the backend, load the project's
 * build, then, with the stale check beside it (stale.ts), make the backend ready and compute
 * the environment commands start from. Light: on the exec/env hot path.
 */
import type { Output } from "../output.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import type { Backend } from "../hosts/backend.ts";
import { openBackend } from "../hosts/select.ts";
import { type DevEnv, loadDevEnv } from "./launch.ts";
import { withStaleCheck } from "./stale.ts";
import { withoutLocaldEnv } from "./format.ts";

export interface DevSession {
  b: Backend;
  d: DevEnv;
}

/** The backend and the build of the project at or above `dir` (not built: a LocaldError). */
export async function openDevSession(dir: string, ed: EnvAndDirs): Promise<DevSession> {
  const b = await openBackend(ed);
  return { b, d: loadDevEnv(dir, b) };
}

/**
 * `command` with the backend ready, given the environment commands start from: the backend's
 * (natively your own) without what an earlier `eval "$(locald env)"` added, so nothing is
 * doubled (the launcher adds it again). `started`: call it once the command runs.
 */
export function inDevEnv<T>(
  { b, d }: DevSession,
  env: Record<string, string>,
  out: Output,
  command: (base: Record<string, string>, started: () => void) => Promise<T>,
  holdMs = 0,
): Promise<T> {
  return withStaleCheck(d, out, async (started) => {
    await b.ready(out);
    return await command(withoutLocaldEnv(await b.commandEnv(env)), started);
  }, holdMs);
}
