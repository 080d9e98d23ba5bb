/**
 * What `locald doctor` checks: a list of independent checks, each saying ok / warn / fail /
 * info in one line, with a hint and the facts behind it (for --json). To add one, write a
 * Check and append it to CHECKS; keep heavy imports inside its run().
 */
import { join } from "node:path";
import { localdHome } from "../config/paths.ts";
import { formatBytes } from "../output.ts";
import type { GuestFacts } from "../hosts/select.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "info";

export interface CheckResult {
  status: CheckStatus;
  /** One line. */
  summary: string;
  /** What to do about it, one line. */
  hint?: string;
  details?: string[];
  /** Facts for --json. */
  data?: Record<string, unknown>;
}

export interface Check {
  id: string;
  title: string;
  run(env: Record<string, string>): Promise<CheckResult>;
}

const backend: Check = {
  id: "backend",
  title: "backend",
  async run(env) {
    const { os, arch } = Deno.build;
    const { chooseBackend } = await import("../hosts/select.ts");
    let chosen;
    try {
      chosen = chooseBackend(env, os);
    } catch (e) {
      return {
        status: "fail",
        summary: (e as Error).message,
        hint: (e as { hint?: string }).hint,
        data: { backend: null, os, arch },
      };
    }
    if (chosen.name === "native") {
      return {
        status: "ok",
        summary: `native: the lifecycle runs directly on this host (${os}/${arch})`,
        data: { backend: "native", reason: chosen.reason, os, arch },
      };
    }
    try {
      return chosen.name === "lima"
        ? await limaStatus(env, chosen.reason)
        : await wslStatus(env, chosen.reason);
    } catch (e) {
      return {
        status: "fail",
        summary: `${chosen.name}: ${(e as Error).message}`,
        hint: (e as { hint?: string }).hint,
        data: { backend: chosen.name, reason: chosen.reason, os, arch },
      };
    }
  },
};

/** The Lima VM's state, without starting or installing anything. */
async function limaStatus(env: Record<string, string>, reason: string): Promise<CheckResult> {
  const vm = await import("../hosts/vm.ts");
  const l = await import("../hosts/lima.ts");
  const data: Record<string, unknown> = { backend: "lima", reason };
  const lc = await vm.limaContext(env, undefined, false);
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
  const home = localdHome(env);
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

/** The WSL distribution locald would use, without starting it. */
async function wslStatus(env: Record<string, string>, reason: string): Promise<CheckResult> {
  const { wslContext } = await import("../hosts/vm.ts");
  const c = await wslContext(env);
  return {
    status: "ok",
    summary: `wsl: distribution ${c.distro.name} (${c.reason}), ${c.distro.state}, WSL ` +
      c.distro.version,
    data: {
      backend: "wsl",
      reason,
      distro: c.distro.name,
      status: c.distro.state,
      version: c.distro.version,
    },
  };
}

const lifecycle: Check = {
  id: "lifecycle",
  title: "lifecycle",
  async run(env) {
    const { findLifecycle } = await import("../tools/lifecycle.ts");
    const { LIFECYCLE } = await import("../tools/pins.ts");
    const lc = await findLifecycle(env);
    // Which release assets this binary carries a sha256 for (the rest are verified against
    // the release's checksums file on first use).
    const checksums = Object.fromEntries(
      Object.entries(LIFECYCLE.assets).map(([k, v]) => [k, v.sha256 ?? "not pinned"]),
    );
    const pinNote = Object.values(checksums).every((v) => v !== "not pinned")
      ? "sha256 pinned for every platform"
      : "sha256 not pinned in this build: verified against the release's checksums file";
    const own = env.LOCALD_LIFECYCLE_DIR;
    if (!lc && own) {
      return {
        status: "fail",
        summary: `LOCALD_LIFECYCLE_DIR=${own} holds no lifecycle (no lifecycle/launcher in it)`,
        hint: "point LOCALD_LIFECYCLE_DIR at an unpacked lifecycle release (the directory " +
          "that holds lifecycle.toml and lifecycle/), or unset it to use the pinned release",
        data: { installed: false, source: "LOCALD_LIFECYCLE_DIR", path: own, verified: false },
      };
    }
    if (!lc) {
      return {
        status: "warn",
        summary: `not installed (pinned: ${LIFECYCLE.version}; ${pinNote})`,
        hint: "run `locald setup` (the first `locald build` also downloads it), or set " +
          "LOCALD_LIFECYCLE_DIR to an unpacked lifecycle release",
        data: { installed: false, pinned: LIFECYCLE.version, checksums },
      };
    }
    // A lifecycle from LOCALD_LIFECYCLE_DIR is used as it is: nothing checked its bytes.
    const verified = lc.source !== "LOCALD_LIFECYCLE_DIR";
    return {
      status: "ok",
      summary: `${lc.version} at ${lc.root} (` +
        (verified
          ? `${lc.source}; ${pinNote})`
          : "LOCALD_LIFECYCLE_DIR: used as it is, not verified against any checksum)"),
      data: {
        checksums,
        verified,
        installed: true,
        version: lc.version,
        path: lc.root,
        source: lc.source,
        pinned: LIFECYCLE.version,
        platformApis: lc.platformApis,
      },
    };
  },
};

const sandbox: Check = {
  id: "sandbox",
  title: "sandbox",
  async run(env) {
    const { chooseBackend } = await import("../hosts/select.ts");
    let inVm = false;
    try {
      inVm = chooseBackend(env).name === "lima";
    } catch { /* the backend check says why */ }
    if (inVm) return await limaSandbox(env);
    const { checkSandbox } = await import("../hosts/sandbox_check.ts");
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
  },
};

/** On Lima, builds sandbox inside the VM: what the VM said when it was last asked. */
async function limaSandbox(env: Record<string, string>): Promise<CheckResult> {
  const { limaHome } = await import("../hosts/lima.ts");
  const { guestFactsFile } = await import("../hosts/lima_backend.ts");
  const { readTextIfExists } = await import("../util/fs.ts");
  let s: GuestFacts["sandbox"];
  let known = false;
  try {
    const text = await readTextIfExists(guestFactsFile(limaHome(env)));
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

/** Disk use of a tree as du counts it (allocated blocks), without following symlinks. */
export async function diskUse(path: string): Promise<number> {
  let total = 0;
  const walk = async (p: string) => {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(p);
    } catch {
      return;
    }
    total += st.blocks !== null ? st.blocks * 512 : st.size;
    if (!st.isDirectory) return;
    try {
      for await (const e of Deno.readDir(p)) await walk(join(p, e.name));
    } catch { /* unreadable: counted as far as it goes */ }
  };
  await walk(path);
  return total;
}

const disk: Check = {
  id: "disk",
  title: "disk",
  async run(env) {
    const home = localdHome(env);
    const parts: Record<string, number> = {};
    let projects = 0;
    try {
      for await (const e of Deno.readDir(home)) {
        parts[e.name] = await diskUse(join(home, e.name));
        if (e.name === "projects" && e.isDirectory) {
          for await (const _ of Deno.readDir(join(home, e.name))) projects++;
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      return {
        status: "info",
        summary: `nothing stored yet in ${home}`,
        data: { home, total: 0, parts, projects },
      };
    }
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    const list = Object.entries(parts).sort((a, b) => b[1] - a[1]).map(([k, v]) =>
      `${k} ${formatBytes(v)}${k === "projects" ? ` (${projects})` : ""}`
    );
    return {
      status: "info",
      summary: `${formatBytes(total)} in ${home}${list.length ? `: ${list.join(", ")}` : ""}`,
      data: { home, total, parts, projects },
    };
  },
};

export const CHECKS: Check[] = [backend, lifecycle, sandbox, disk];
