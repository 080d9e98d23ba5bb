/**
 * What `locald doctor` checks: a list of independent checks, each saying ok / warn / fail /
 * info in one line, with a hint and the facts behind it (for --json). To add one, write a
 * Check and append it to CHECKS; keep heavy imports inside its run().
 */
import { diskUse } from "../util/disk_use.ts";
import { join } from "node:path";
import type { EnvAndDirs } from "../config/paths.ts";
import { formatBytes } from "../output.ts";
import type { BackendName } from "../hosts/backend.ts";

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
  /**
   * `dirs` is resolved on first use: a check that throws is reported, not fatal. `dir`: the
   * current project (-C, else the working directory).
   */
  run(ctx: EnvAndDirs & { dir: string }): Promise<CheckResult>;
}

const backend: Check = {
  id: "backend",
  title: "backend",
  async run(ctx) {
    const env = ctx.env;
    const { os, arch } = Deno.build;
    const { backendDriver, chooseBackend } = await import("../hosts/select.ts");
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
    try {
      return await (await backendDriver(chosen.name)).status(ctx, chosen.reason);
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

const lifecycle: Check = {
  id: "lifecycle",
  title: "lifecycle",
  async run(ctx) {
    const env = ctx.env;
    const { findLifecycle } = await import("../tools/lifecycle.ts");
    const { LIFECYCLE } = await import("../tools/pins.ts");
    const lc = await findLifecycle(ctx);
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
  async run(ctx) {
    const { backendDriver, chooseBackend } = await import("../hosts/select.ts");
    let name: BackendName = "native";
    try {
      name = chooseBackend(ctx.env).name;
    } catch { /* the backend check says why; this machine's sandbox is then the one asked */ }
    return await (await backendDriver(name)).sandboxStatus(ctx);
  },
};

/** Disk use of a tree as du counts it (allocated blocks), without following symlinks. */
const disk: Check = {
  id: "disk",
  title: "disk",
  async run({ dirs }) {
    const home = dirs.home;
    const parts: Record<string, number> = {};
    let projects = 0;
    try {
      for await (const e of Deno.readDir(home)) {
        parts[e.name] = diskUse(join(home, e.name));
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

/**
 * Where the current project's next build would run (the builder's image or the host) and why,
 * as `locald build` with no flags decides it (src/cnb/userland.ts), with what its last build
 * recorded. Starts nothing and extracts nothing: whether the builder's image holds a system is
 * known only once a build extracted it.
 */
const userland: Check = {
  id: "userland",
  title: "userland",
  async run(ctx) {
    const { env, dir } = ctx;
    const { loadProject } = await import("../config/project.ts");
    const { loadSettings } = await import("../config/settings.ts");
    const { DEFAULT_BUILDER } = await import("../config/defaults.ts");
    const { chooseUserland } = await import("../cnb/userland.ts");
    const { localBuilderPath } = await import("../cnb/sources.ts");
    const { projectTomlDigest, readChoice } = await import("../cnb/choice.ts");
    const { readBuildRecord } = await import("../cnb/record.ts");
    const { backendDriver, chooseBackend } = await import("../hosts/select.ts");
    const project = await loadProject(dir);
    const settings = await loadSettings(env);
    const chosen = chooseBackend(env);
    const b = await (await backendDriver(chosen.name)).open(ctx, chosen.reason);
    const paths = b.projectPaths(dir);
    // The builder a bare build would use: the last build's (while project.toml is unchanged),
    // else project.toml's, else the default unless project.toml names only directories.
    const last = await readChoice(paths.state);
    const remembered = last && last.projectToml === await projectTomlDigest(dir) ? last : undefined;
    const onlyDirs = project.group.length > 0 && project.group.every((g) => g.uri && !g.id);
    const builder = remembered
      ? remembered.builder ?? (remembered.buildpacks.length ? undefined : DEFAULT_BUILDER)
      : project.builder ?? (onlyDirs ? undefined : DEFAULT_BUILDER);
    const sandbox = builder
      ? await (await backendDriver(chosen.name)).sandboxStatus(ctx)
      : undefined;
    let choice;
    try {
      choice = chooseUserland({
        project: project.userland,
        projectFile: project.file,
        settings: settings.userland,
        settingsFile: settings.file,
        builder: builder
          ? { ref: builder, local: localBuilderPath(builder, dir) !== undefined }
          : undefined,
        bwrap: {
          ok: sandbox?.status === "ok",
          reason: sandbox?.summary.replace(/^not available: /, "").replace(/ \(sandboxed.*$/, ""),
          fix: sandbox?.hint,
        },
      });
    } catch (e) {
      return {
        status: "fail",
        summary: `${dir}: ${(e as Error).message}`,
        hint: (e as { hint?: string }).hint,
        data: { project: dir, builder: builder ?? null, mode: null },
      };
    }
    const record = await readBuildRecord(paths);
    const recorded = record ? record.userland ?? "host" : undefined;
    return {
      status: "info",
      summary: `${choice.mode} for ${dir} (${choice.why})` +
        (recorded && recorded !== choice.mode ? `; its last build ran on ${recorded}` : ""),
      details: choice.mode === "stack"
        ? [
          "the phases run in the builder image's root filesystem (extracted once per digest);",
          '`locald build --host` or userland = "host" builds on this machine\'s own tools',
        ]
        : undefined,
      data: {
        project: dir,
        mode: choice.mode,
        why: choice.why,
        builder: builder ?? null,
        settings: settings.userland,
        projectSetting: project.userland ?? null,
        lastBuild: recorded ?? null,
      },
    };
  },
};

export const CHECKS: Check[] = [backend, lifecycle, sandbox, disk, userland];
