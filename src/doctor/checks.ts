/**
 * What `locald doctor` checks: a list of independent checks, each saying ok / warn / fail /
 * info in one line, with a hint and the facts behind it (for --json). To add one, write a
 * Check and append it to CHECKS; keep heavy imports inside its run().
 */
import { join } from "node:path";
import { localdHome } from "../config/paths.ts";
import { formatBytes } from "../cli/output.ts";

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
  run() {
    const { os, arch } = Deno.build;
    if (os === "linux") {
      return Promise.resolve({
        status: "ok",
        summary: `native: the lifecycle runs directly on this host (${os}/${arch})`,
        data: { backend: "native", os, arch },
      });
    }
    const vm = os === "darwin" ? "lima" : os === "windows" ? "wsl" : undefined;
    return Promise.resolve({
      status: vm ? "info" : "fail",
      summary: vm
        ? `${vm}: builds run in a Linux VM (${os}/${arch})`
        : `no backend for ${os}/${arch}`,
      data: { backend: vm ?? null, os, arch },
    });
  },
};

const lifecycle: Check = {
  id: "lifecycle",
  title: "lifecycle",
  async run(env) {
    const { findLifecycle } = await import("../tools/lifecycle.ts");
    const { LIFECYCLE } = await import("../tools/pins.ts");
    const lc = await findLifecycle(env);
    if (!lc) {
      return {
        status: "warn",
        summary: `not installed (pinned: ${LIFECYCLE.version})`,
        hint: "run `locald setup` (the first `locald build` also downloads it)",
        data: { installed: false, pinned: LIFECYCLE.version },
      };
    }
    return {
      status: "ok",
      summary: `${lc.version} at ${lc.root} (${lc.source})`,
      data: {
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
