/**
 * The Lima backend: steps run in locald's VM through `limactl shell`; locald's state stays
 * where it is natively ($LOCALD_HOME, under the home directory the VM mounts at the same
 * path), so every path is the same on both sides and the host-side file work around the
 * phases is the native code, unchanged. See README "macOS and Windows" for why.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { projectPaths } from "../config/paths.ts";
import { readTextIfExists, writeFileAtomic } from "../util/fs.ts";
import { goArch, parseOsRelease } from "./target.ts";
import { type Backend, commandStep, type GuestFacts } from "./select.ts";
import { GUEST_PROBE_SCRIPT, guestCommandEnv, parseGuestProbe } from "./guest.ts";
import type { Host } from "./types.ts";
import { isMounted, LIMA_INSTANCE, type Limactl, limaHost } from "./lima.ts";
import { ensureLimaRunning, limaContext, vmConfig } from "./vm.ts";

/** Where the last probe of the VM is kept (removed with the VM by `locald vm rm`). */
export function guestFactsFile(limaHome: string): string {
  return join(limaHome, "_locald", "guest.json");
}

/** Ask the running VM about itself: one `limactl shell` through the login shell. */
export async function probeLimaGuest(l: Limactl): Promise<GuestFacts> {
  let r: Deno.CommandOutput;
  try {
    r = await new Deno.Command(l.path, {
      args: [
        "shell",
        "--tty=false",
        "--workdir",
        "/",
        LIMA_INSTANCE,
        "sh",
        "-c",
        GUEST_PROBE_SCRIPT,
      ],
      env: l.env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new LocaldError(`cannot run ${l.path}: ${(e as Error).message.split("\n")[0]}`, {
      hint: "run `locald vm start` to install Lima, or unset LOCALD_LIMACTL",
      exitCode: ExitCode.failure,
    });
  }
  const p = r.code === 0 ? parseGuestProbe(new TextDecoder().decode(r.stdout)) : undefined;
  if (!p) {
    const why = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
    throw new LocaldError(`the locald VM did not answer${why ? `: ${why}` : ""}`, {
      hint: `read ${join(l.home, LIMA_INSTANCE, "ha.stderr.log")}; \`locald vm stop\` and ` +
        "`locald vm start` restart it",
      exitCode: ExitCode.failure,
    });
  }
  return {
    uid: p.uid,
    gid: p.gid,
    machine: p.machine,
    target: { os: "linux", arch: goArch(p.machine), distro: parseOsRelease(p.osRelease) },
    login: p.login,
    ...(p.sandbox ? { sandbox: p.sandbox } : {}),
  };
}

/** Probe the running VM and keep the answer for later commands (and dry runs). */
export async function recordGuestFacts(l: Limactl): Promise<GuestFacts> {
  const facts = await probeLimaGuest(l);
  await writeFileAtomic(guestFactsFile(l.home), JSON.stringify(facts));
  return facts;
}

export async function openLimaBackend(
  env: Record<string, string>,
  reason: string,
): Promise<Backend> {
  const lc = (await limaContext(env, undefined, false)) ?? undefined;
  const config = vmConfig(env);
  let mounts = config.mounts;
  let facts: GuestFacts | undefined;
  let context = lc;
  const assertVisible = (p: string, what: string) => {
    if (isMounted(p, mounts)) return;
    throw new LocaldError(`the locald VM cannot see ${what} ${p}`, {
      hint: `it mounts ${mounts.join(", ") || "nothing"}; add the directory to ` +
        "LOCALD_VM_MOUNTS (':'-separated), then `locald vm rm` and `locald vm start`",
      exitCode: ExitCode.input,
    });
  };
  const guest = async (): Promise<GuestFacts> => {
    if (facts) return facts;
    const file = context ? guestFactsFile(context.limactl.home) : undefined;
    const text = file ? await readTextIfExists(file) : undefined;
    if (text) return (facts = JSON.parse(text) as GuestFacts);
    throw new LocaldError("locald does not know the VM yet (it has not been started)", {
      hint: "run `locald vm start` (a dry run never starts the VM)",
      exitCode: ExitCode.input,
    });
  };
  const b: Backend = {
    name: "lima",
    reason,
    get host(): Host {
      if (!context) {
        throw new LocaldError("Lima is not installed yet", {
          hint: "run `locald vm start`",
          exitCode: ExitCode.failure,
        });
      }
      // Lima gives the VM's user the host user's uid, and never runs as root.
      return limaHost({
        limactl: context.limactl.path,
        limaHome: context.limactl.home,
        hostEnv: env,
        guestUid: Deno.uid() || 1000,
      });
    },
    async ready(out: Output) {
      context ??= (await limaContext(env, out, true))!;
      const r = await ensureLimaRunning(context, out, config);
      if (r.instance.mounts?.length) mounts = r.instance.mounts;
      const file = guestFactsFile(context.limactl.home);
      if (!r.started) {
        const text = await readTextIfExists(file);
        if (text) facts = JSON.parse(text) as GuestFacts;
      }
      // Facts an older locald cached say nothing about the sandbox: ask the VM again, once.
      if (!facts?.sandbox) facts = await recordGuestFacts(context.limactl);
    },
    guest,
    // State on the shared mount at the same path: exactly the native layout.
    projectPaths: (d) => projectPaths(env, d),
    guestPath: (p) => p,
    assertVisible,
    userPath: (p) => p,
    symlinks: true,
    async lifecycle(e, out, install) {
      const lcm = await import("../tools/lifecycle.ts");
      if (e.LOCALD_LIFECYCLE_DIR) assertVisible(e.LOCALD_LIFECYCLE_DIR, "the lifecycle in");
      const asset = `linux-${(await guest()).machine}`;
      const lifecycle = install
        ? await lcm.ensureLifecycle(e, out, asset)
        : await lcm.findLifecycle(e, asset);
      const root = lifecycle?.root ?? e.LOCALD_LIFECYCLE_DIR ?? lcm.lifecycleInstallDir(e, asset);
      assertVisible(root, "the lifecycle in");
      return { lifecycle, root };
    },
    async commandEnv(userEnv) {
      return guestCommandEnv(userEnv, (await guest()).login);
    },
    command(cmd, name) {
      return b.host.wrap(commandStep(cmd, name));
    },
    // bwrap runs inside the VM, with the VM's bwrap, ids and system directories; paths are
    // the same on both sides (shared mount), so the plan's mounts need no translation.
    async sandboxOptions(network, why) {
      const f = await guest();
      const s = f.sandbox;
      const reprovision = "`locald vm rm && locald vm start` re-creates the VM, whose " +
        "provisioning installs bubblewrap and an AppArmor profile that lets bwrap create " +
        "user namespaces";
      if (!s) {
        throw new LocaldError(`cannot sandbox ${why}: locald does not know the VM's sandbox yet`, {
          hint: "run `locald vm stop` and `locald vm start`, which asks the VM again",
          exitCode: ExitCode.unsupported,
        });
      }
      if (!s.bwrap) {
        throw new LocaldError(
          `cannot sandbox ${why}: the locald VM has no bwrap (bubblewrap)`,
          { hint: reprovision, exitCode: ExitCode.unsupported },
        );
      }
      if (!s.works) {
        throw new LocaldError(
          `cannot sandbox ${why}: bwrap in the locald VM cannot create a sandbox: ${s.error}`,
          { hint: reprovision, exitCode: ExitCode.unsupported },
        );
      }
      return { bwrap: s.bwrap, uid: f.uid, gid: f.gid, network, system: s.system };
    },
  };
  return b;
}
