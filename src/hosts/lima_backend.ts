/**
 * The Lima backend: steps run in locald's VM through `limactl shell`; locald's state stays
 * where it is natively ($LOCALD_HOME, under the home directory the VM mounts at the same
 * path), so every path is the same on both sides and the host-side file work around the
 * phases is the native code, unchanged. See README "macOS and Windows" for why.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError, UsageError } from "../errors.ts";
import { type EnvAndDirs, projectPaths, withEnv } from "../config/paths.ts";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "../util/fs.ts";
import { goArch, parseOsRelease } from "./target.ts";
import type { Backend, BackendDriver, BackendStatus, GuestFacts, VmRequest } from "./backend.ts";
import { GUEST_PROBE_SCRIPT, guestCommandEnv, parseGuestProbe } from "./guest.ts";
import type { Host } from "./types.ts";
import { isMounted, LIMA_INSTANCE, type Limactl, limaHome, limaHost } from "./lima.ts";
import { ensureLimaRunning, limaContext, vmConfig } from "./vm.ts";

/** Where the last probe of the VM is kept (removed with the VM by `locald vm rm`). */
export function guestFactsFile(limaHome: string): string {
  return join(limaHome, "_locald", "guest.json");
}

/** Ask the running VM about itself: one `limactl shell` through the login shell. */
export async function probeLimaGuest(l: Limactl): Promise<GuestFacts> {
  const { run } = await import("../util/runner.ts");
  const r = await run([
    l.path,
    "shell",
    "--tty=false",
    "--workdir",
    "/",
    LIMA_INSTANCE,
    "sh",
    "-c",
    GUEST_PROBE_SCRIPT,
  ], {
    env: l.env,
    clearEnv: true,
    hint: "run `locald vm start` to install Lima, or unset LOCALD_LIMACTL",
    exitCode: ExitCode.failure,
  });
  const p = r.code === 0 ? parseGuestProbe(r.stdout) : undefined;
  if (!p) {
    const why = r.stderr.trim().split("\n").pop();
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

export async function openLimaBackend(ed: EnvAndDirs, reason: string): Promise<Backend> {
  const env = ed.env;
  const lc = (await limaContext(ed, undefined, false)) ?? undefined;
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
      context ??= (await limaContext(ed, out, true))!;
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
    projectPaths: (d) => projectPaths(ed.dirs, d),
    guestPath: (p) => p,
    assertVisible,
    userPath: (p) => p,
    symlinks: true,
    async lifecycle(e, out, install) {
      const lcm = await import("../tools/lifecycle.ts");
      if (e.LOCALD_LIFECYCLE_DIR) assertVisible(e.LOCALD_LIFECYCLE_DIR, "the lifecycle in");
      const asset = `linux-${(await guest()).machine}`;
      const lifecycle = install
        ? await lcm.ensureLifecycle(withEnv(ed, e), out, asset)
        : await lcm.findLifecycle(withEnv(ed, e), asset);
      const root = lifecycle?.root ?? e.LOCALD_LIFECYCLE_DIR ??
        lcm.lifecycleInstallDir(ed.dirs.tools, asset);
      assertVisible(root, "the lifecycle in");
      return { lifecycle, root };
    },
    async commandEnv(userEnv) {
      return guestCommandEnv(userEnv, (await guest()).login);
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

/** The Lima VM's state, without starting or installing anything. */
async function limaStatus(ed: EnvAndDirs, reason: string): Promise<BackendStatus> {
  const vm = await import("./vm.ts");
  const l = await import("./lima.ts");
  const data: Record<string, unknown> = { backend: "lima", reason };
  const lc = await vm.limaContext(ed, undefined, false);
  if (!lc) {
    return {
      status: "warn",
      summary: "lima: Lima is not installed yet",
      hint: "`locald vm start` installs Lima and creates the VM (or the first build does)",
      data: { ...data, status: "NotInstalled" },
    };
  }
  const inst = await l.limaInstance(lc.limactl);
  const log = l.haLogPath(lc.limactl.home);
  Object.assign(data, { limaHome: lc.limactl.home, status: inst?.status ?? "NotCreated", log });
  if (!inst) {
    return {
      status: "info",
      summary: "lima: the locald VM does not exist yet",
      hint: "`locald vm start` creates it (or the first build does)",
      data,
    };
  }
  const mounts = inst.mounts ?? [];
  data.mounts = mounts;
  if (inst.status === "Broken") {
    return {
      status: "fail",
      summary: `lima: the locald VM is broken${inst.errors?.[0] ? `: ${inst.errors[0]}` : ""}`,
      hint: `read ${log}; \`locald vm stop\` and \`locald vm start\`, or \`locald vm rm\``,
      data,
    };
  }
  // State lives on the shared mount: the VM must see LOCALD_HOME.
  const home = ed.dirs.home;
  if (mounts.length && !l.isMounted(home, mounts)) {
    return {
      status: "fail",
      summary: `lima: the VM cannot see locald's state in ${home}`,
      hint: "add it to LOCALD_VM_MOUNTS, then `locald vm rm` and `locald vm start`",
      data,
    };
  }
  return {
    status: inst.status === "Running" ? "ok" : "info",
    summary: `lima: the locald VM is ${inst.status}` +
      (inst.status === "Running" ? "" : " (the next build or command starts it)"),
    details: mounts.length ? [`mounts ${mounts.join(", ")}`] : undefined,
    data,
  };
}

/** On Lima, builds sandbox inside the VM: what the VM said when it was last asked. */
async function limaSandbox(ed: EnvAndDirs): Promise<BackendStatus> {
  let s: GuestFacts["sandbox"];
  let known = false;
  try {
    const text = await readTextIfExists(guestFactsFile(limaHome(ed)));
    if (text) {
      s = (JSON.parse(text) as GuestFacts).sandbox;
      known = s !== undefined;
    }
  } catch { /* unknown */ }
  const data = {
    where: "lima VM",
    available: known ? s!.works : null,
    bwrap: s?.bwrap || null,
    reason: s && !s.works ? (s.bwrap ? s.error ?? null : "no bwrap in the VM") : null,
  };
  const hint = "`locald vm rm && locald vm start` re-creates the VM, whose provisioning " +
    "installs bubblewrap and lets it create user namespaces";
  if (!known) {
    return {
      status: "info",
      summary: "in the locald VM: not known until the VM runs a command",
      hint: "`locald vm start` asks the VM",
      data,
    };
  }
  if (s!.works) {
    return { status: "ok", summary: `available in the locald VM: bwrap at ${s!.bwrap}`, data };
  }
  return {
    status: "warn",
    summary: `not available in the locald VM: ${data.reason} (sandboxed and image builds stop)`,
    hint,
    data,
  };
}

/** `locald vm SUB` on Lima: the VM that builds run in. */
async function limaVm(sub: string, req: VmRequest): Promise<number> {
  const { out, env } = req;
  const vm = await import("./vm.ts");
  const l = await import("./lima.ts");
  if (sub === "start" || sub === "shell") {
    const cpusText = req.size.cpus;
    const cpus = cpusText === undefined ? undefined : Number(cpusText);
    if (cpus !== undefined && !(Number.isInteger(cpus) && cpus > 0)) {
      throw new UsageError(`--cpus takes a whole number (got "${cpusText}")`, "vm");
    }
    const config = vm.vmConfig(env, {
      cpus,
      memory: req.size.memory,
      disk: req.size.disk,
    });
    const lc = (await vm.limaContext(req, out, true))!;
    const r = await vm.ensureLimaRunning(lc, out, config);
    if (sub === "start") {
      // What builds need to know about the VM (ids, arch, os-release), asked once now.
      if (r.started) {
        await recordGuestFacts(lc.limactl);
      }
      if (r.created) out.info(`the locald VM is running (created in ${lc.limactl.home})`);
      else if (r.started) out.info("the locald VM is running");
      else out.info("the locald VM is already running");
      if (!r.created && (cpus || req.size.memory || req.size.disk)) {
        out.warn(
          "--cpus, --memory and --disk apply when the VM is created; " +
            "`locald vm rm` first to change them",
        );
      }
      return 0;
    }
    const mounts = r.instance.mounts ?? config.mounts;
    const args = ["shell", "--tty=false"];
    if (l.isMounted(req.dir, mounts)) args.push("--workdir", req.dir);
    else out.warn(`the VM cannot see ${req.dir}; the shell starts in the VM user's home`);
    args.push(l.LIMA_INSTANCE);
    const { run } = await import("../util/runner.ts");
    return (await run([lc.limactl.path, ...args], {
      env: lc.limactl.env,
      clearEnv: true,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      hint: "run `locald vm start` to install Lima, or unset LOCALD_LIMACTL",
    })).code;
  }
  const lc = await vm.limaContext(req, out, false);
  const inst = lc ? await l.limaInstance(lc.limactl) : undefined;
  if (sub === "status") {
    const home = lc?.limactl.home ?? l.limaHome(req);
    const info = {
      backend: "lima",
      instance: l.LIMA_INSTANCE,
      status: !lc ? "NotInstalled" : inst ? inst.status : "NotCreated",
      limaHome: home,
      limactl: lc?.install.limactl ?? null,
      cpus: inst?.cpus ?? null,
      memory: inst?.memory ?? null,
      disk: inst?.disk ?? null,
      mounts: inst?.mounts ?? [],
      log: l.haLogPath(home),
      errors: inst?.errors ?? [],
    };
    if (req.json) {
      out.json(info);
      return 0;
    }
    const gib = (n: number | null) => (n ? `${(n / 2 ** 30).toFixed(0)} GiB` : "?");
    if (!lc) {
      out.info("Lima is not installed yet: `locald vm start` installs it and creates the VM");
    } else if (!inst) out.info("the locald VM does not exist yet: `locald vm start` creates it");
    else {
      out.info(`locald VM: ${inst.status}`);
      out.info(`  cpus ${inst.cpus ?? "?"}, memory ${gib(info.memory)}, disk ${gib(info.disk)}`);
      if (info.mounts.length) out.info(`  mounts ${info.mounts.join(", ")}`);
      out.info(`  LIMA_HOME ${home}`);
      if (inst.status === "Broken") {
        out.warn(`the VM is broken${inst.errors?.[0] ? `: ${inst.errors[0]}` : ""}`);
        out.info(`  log: ${info.log}`);
        out.info("  `locald vm stop` and `locald vm start`, or `locald vm rm` to start over");
      }
    }
    return 0;
  }
  if (!lc || !inst) {
    out.info(`the locald VM does not exist; nothing to ${sub === "rm" ? "remove" : "stop"}`);
    return 0;
  }
  if (sub === "stop") {
    if (inst.status === "Stopped") {
      out.info("the locald VM is already stopped");
      return 0;
    }
    const done = out.phase("stopping the locald VM");
    let ok = false;
    try {
      await l.stopLima(lc.limactl);
      ok = true;
    } finally {
      done(ok);
    }
    out.info("the locald VM is stopped");
    return 0;
  }
  // rm
  await l.deleteLima(lc.limactl);
  await removeIfExists(join(lc.limactl.home, "_locald"));
  out.info("the locald VM is removed (its layers and caches with it)");
  return 0;
}

export const driver: BackendDriver = {
  open: openLimaBackend,
  status: limaStatus,
  sandboxStatus: limaSandbox,
  vm: limaVm,
};
