/**
 * Which host runs the plan: native on Linux, locald's Lima VM on macOS, WSL 2 on Windows, or
 * what LOCALD_BACKEND says. Only the chosen backend's module loads, so the native path (and
 * `locald exec`'s start-up) pays nothing for Lima and WSL. What a backend is: backend.ts.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import type { Backend, BackendDriver, BackendName } from "./backend.ts";

export const BACKENDS: readonly BackendName[] = ["native", "lima", "wsl"];
export type { BackendName };

/** The backend for this OS, or LOCALD_BACKEND's. Pure. */
export function chooseBackend(
  env: Record<string, string>,
  os: string = Deno.build.os,
): { name: BackendName; reason: string } {
  const forced = env.LOCALD_BACKEND;
  if (forced !== undefined && forced !== "") {
    if ((BACKENDS as readonly string[]).includes(forced)) {
      return { name: forced as BackendName, reason: "LOCALD_BACKEND" };
    }
    throw new LocaldError(`LOCALD_BACKEND must be native, lima or wsl (got "${forced}")`, {
      hint: "unset LOCALD_BACKEND to let locald choose from the operating system",
      exitCode: ExitCode.input,
    });
  }
  switch (os) {
    case "linux":
      return { name: "native", reason: "Linux runs the lifecycle directly" };
    case "darwin":
      return { name: "lima", reason: "macOS runs the lifecycle in locald's Lima VM" };
    case "windows":
      return { name: "wsl", reason: "Windows runs the lifecycle in WSL 2" };
    default:
      throw new LocaldError(`locald does not support ${os}`, {
        hint: "set LOCALD_BACKEND=native if this system runs Linux binaries",
        exitCode: ExitCode.unsupported,
      });
  }
}

/** The module of one backend, loaded on demand. */
export async function backendDriver(name: BackendName): Promise<BackendDriver> {
  switch (name) {
    case "native":
      return (await import("./native_backend.ts")).driver;
    case "lima":
      return (await import("./lima_backend.ts")).driver;
    case "wsl":
      return (await import("./wsl_backend.ts")).driver;
  }
}

/** The backend for this command, given locald's environment and dirs (a CommandContext). */
export async function openBackend(ed: EnvAndDirs, os: string = Deno.build.os): Promise<Backend> {
  const { name, reason } = chooseBackend(ed.env, os);
  return await (await backendDriver(name)).open(ed, reason);
}
