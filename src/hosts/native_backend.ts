/**
 * The native backend: steps run on this Linux machine (in a user namespace when locald runs as
 * root and the step must not, see native.ts); state is where locald keeps it, steps see the
 * same paths. A dev-env command runs as it is (as root too: it is the user's own command).
 */
import { type EnvAndDirs, projectPaths, withEnv } from "../config/paths.ts";
import type { Backend, BackendDriver, BackendStatus, GuestFacts } from "./backend.ts";
import { nativeHost } from "./native.ts";
import { findOnPath } from "../util/fs.ts";

function open(ed: EnvAndDirs, reason: string): Promise<Backend> {
  let facts: GuestFacts | undefined;
  return Promise.resolve({
    name: "native",
    reason,
    host: nativeHost({ uid: Deno.uid() ?? 1000 }),
    ready: () => Promise.resolve(),
    async guest() {
      if (!facts) {
        facts = {
          uid: Deno.uid() ?? 0,
          gid: Deno.gid() ?? 0,
          machine: Deno.build.arch,
          // Only builds ask (they load target.ts anyway): not on a dev command's path.
          target: await (await import("./target.ts")).hostTarget(),
          login: {},
        };
      }
      return facts;
    },
    projectPaths: (d) => projectPaths(ed.dirs, d),
    guestPath: (p) => p,
    assertVisible: () => {},
    userPath: (p) => p,
    symlinks: true,
    async lifecycle(e, out, install) {
      const lc = await import("../tools/lifecycle.ts");
      const lifecycle = install
        ? await lc.ensureLifecycle(withEnv(ed, e), out)
        : await lc.findLifecycle(withEnv(ed, e));
      return {
        lifecycle,
        root: lifecycle?.root ?? e.LOCALD_LIFECYCLE_DIR ?? lc.lifecycleInstallDir(ed.dirs.tools),
      };
    },
    commandEnv: (e) => Promise.resolve(e),
    async sandboxOptions(network, why, o) {
      // A stack build's dev command: bwrap found on PATH is enough (no trial sandbox, no other
      // module loaded); one that cannot start is diagnosed after it failed.
      if (o?.probe === false && Deno.build.os === "linux") {
        const bwrap = findOnPath("bwrap", ed.env.PATH);
        if (bwrap) {
          return { bwrap, uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0, network, system: [] };
        }
      }
      const { checkSandbox, sandboxUnavailable } = await import("./sandbox_check.ts");
      // A good trial is remembered while bwrap, the user and the kernel's switches are the
      // same (doctor always tries).
      const a = await checkSandbox(ed.env, { remember: `${ed.dirs.probes}/bwrap-trial.json` });
      if (!a.available) throw sandboxUnavailable(a, why);
      const system = o?.layout === false ? [] : await (await import("./sandbox.ts")).systemLayout();
      return { bwrap: a.bwrap!, uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0, network, system };
    },
  });
}

/** Whether bwrap can sandbox a step on this machine (what sandboxed builds would meet). */
export async function nativeSandboxStatus({ env }: EnvAndDirs): Promise<BackendStatus> {
  const { checkSandbox } = await import("./sandbox_check.ts");
  const a = await checkSandbox(env, { version: true });
  const data = {
    available: a.available,
    bwrap: a.bwrap ?? null,
    version: a.version ?? null,
    reason: a.reason ?? null,
    fix: a.fix ?? null,
    userns: a.userns,
  };
  if (a.available) {
    return {
      status: "ok",
      summary: `available: bwrap${a.version ? ` ${a.version}` : ""} at ${a.bwrap}`,
      data,
    };
  }
  return {
    status: "warn",
    summary: `not available: ${a.reason} (sandboxed builds stop with this)`,
    hint: a.fix,
    details: a.details,
    data,
  };
}

export const driver: BackendDriver = {
  open,
  status(_env, reason) {
    const { os, arch } = Deno.build;
    return Promise.resolve({
      status: "ok",
      summary: `native: the lifecycle runs directly on this host (${os}/${arch})`,
      data: { backend: "native", reason, os, arch },
    });
  },
  sandboxStatus: nativeSandboxStatus,
};
