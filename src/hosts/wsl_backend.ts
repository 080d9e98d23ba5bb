/**
 * The WSL backend: steps run in a WSL 2 distribution through `wsl.exe --exec`. locald's state
 * lives on the distro's own ext4 disk (under the distro user's ~/.local/share/locald); locald
 * does its file work there through Windows' view of it (\\wsl.localhost\<distro>\...), and
 * steps get the Linux view of every path (`guestPath`). Windows cannot create symlinks that
 * Linux follows there, so local buildpacks are copied into the state directory and process
 * types start through `exec -a TYPE launcher` instead of per-type symlinks. The lifecycle is
 * downloaded and verified on Windows, then unpacked by tar inside the distro (so its phase
 * symlinks are real Linux symlinks). Stack root filesystems likewise live on the distro's disk,
 * written by its tar from one vetted stream of the image's final tree (src/oci/flatten.ts), and
 * read back by their records (`rootsByRecord`: rootfs.json's layout, from the same model), since
 * Windows cannot readlink the distribution's symlinks either.
 * `--sandbox`, stack builds and stack dev commands run the distro's bwrap inside it (what the
 * probe found), over the Linux paths of everything they mount.
 *
 * On a Linux machine (the tests, with the stand-in wsl.exe) the "Windows view" of a distro
 * path is the path itself.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { dirsUnder, type EnvAndDirs, projectPaths, withEnv } from "../config/paths.ts";
import { exists, removeIfExists } from "../util/fs.ts";
import { goArch, parseOsRelease } from "./target.ts";
import { LIFECYCLE } from "../tools/pins.ts";
import type { RootfsWriter } from "../oci/rootfs.ts";
import type { Backend, BackendDriver, BackendStatus, GuestFacts, VmRequest } from "./backend.ts";
import { guestCommandEnv, type GuestSandbox } from "./guest.ts";
import type { Host, Step } from "./types.ts";
import { probeGuest, windowsToWsl, wslHost, wslStateDir, wslToWindows } from "./wsl.ts";
import { wslContext } from "./vm.ts";

/** Windows' view of a path inside the distro (the path itself when locald runs on Linux). */
export function wslHostView(guestPath: string, distro: string, os = Deno.build.os): string {
  return os === "windows" ? wslToWindows(guestPath, distro) : guestPath;
}

/**
 * Unpacks a verified lifecycle tarball from stdin into $1 inside the distro: a private
 * temporary directory, a check, then one rename (`mv -T` fails if another install won).
 */
export const UNPACK_SCRIPT = [
  'set -e; d=$1; t="$d.tmp.$$"',
  'rm -rf "$t"; mkdir -p "$t"',
  'tar -xzf - -C "$t"',
  'test -x "$t/lifecycle/launcher"',
  'mv -T "$t" "$d" 2>/dev/null || { rm -rf "$t"; test -x "$d/lifecycle/launcher"; }',
].join("; ");

export async function openWslBackend(ed: EnvAndDirs, reason: string): Promise<Backend> {
  const env = ed.env;
  const ctx = await wslContext(env);
  const distro = ctx.distro.name;
  const probe = await probeGuest(ctx.wsl, distro, env);
  const facts: GuestFacts = {
    uid: probe.uid,
    gid: probe.gid,
    machine: probe.machine,
    target: { os: "linux", arch: goArch(probe.machine), distro: parseOsRelease(probe.osRelease) },
    login: probe.login,
  };
  const state = wslStateDir(probe.home);
  const host: Host = wslHost({ wsl: ctx.wsl, distro, hostEnv: env, guestUid: probe.uid });
  const guestPath = (p: string): string => {
    const g = windowsToWsl(p, distro);
    if (g === undefined) {
      throw new LocaldError(`WSL cannot see ${p}`, {
        hint: "keep the project on a local drive (C:\\...) or inside the distribution",
        exitCode: ExitCode.input,
      });
    }
    return g;
  };
  const view = (p: string) => wslHostView(p, distro);
  // locald's state inside the distribution, as this side opens it.
  const distroDirs = dirsUnder(view(state));
  const b: Backend = {
    name: "wsl",
    reason: `${reason}; distribution ${distro} (${ctx.reason})`,
    host,
    ready: () => Promise.resolve(),
    guest: () => Promise.resolve(facts),
    // Keyed by the path the distro sees, so a project keeps its state however it is named.
    projectPaths: (d) => projectPaths(distroDirs, guestPath(d)),
    guestPath,
    hostView: view,
    assertVisible: (p) => void guestPath(p),
    userPath: (p) => wslToWindows(p, distro),
    symlinks: false,
    async lifecycle(e, out, install) {
      const lcm = await import("../tools/lifecycle.ts");
      if (e.LOCALD_LIFECYCLE_DIR) {
        const lifecycle = await lcm.ensureLifecycle(withEnv(ed, e), out, `linux-${facts.machine}`);
        return { lifecycle, root: lifecycle.root };
      }
      const asset = `linux-${facts.machine}`;
      const dest = `${state}/tools/lifecycle/${LIFECYCLE.version}-${asset}`;
      const root = view(dest);
      if (await exists(join(root, "lifecycle", "launcher"))) {
        return { lifecycle: await lcm.lifecycleAt(root, "pinned release"), root };
      }
      if (!install) return { root };
      await installInDistro(host, facts, e, ed.dirs.downloads, out, asset, dest);
      return { lifecycle: await lcm.lifecycleAt(root, "pinned release"), root };
    },
    commandEnv: (userEnv) => Promise.resolve(guestCommandEnv(userEnv, facts.login)),
    // bwrap runs inside the distribution, with its bwrap, ids and system directories; every
    // path a step mounts is already the distribution's (guestPath, the state's Linux path).
    sandboxOptions(network, why) {
      const s = probe.sandbox;
      if (!s?.works) return Promise.reject(wslSandboxError(distro, s, why));
      return Promise.resolve({
        bwrap: s.bwrap,
        uid: facts.uid,
        gid: facts.gid,
        network,
        system: s.system,
      });
    },
    // Roots on the distribution's own disk, written by its tar (Windows cannot make the links),
    // and read by their records (Windows cannot read the links either).
    rootsByRecord: true,
    stateHome: distroDirs.home,
    stackRoots: {
      dir: distroDirs.rootfs,
      writer: distroRootfsWriter(host, facts, guestPath),
    },
  };
  return b;
}

/**
 * Runs inside the distribution: extracts the flattened tree from stdin into $1 (an empty
 * directory in ensureRootfs's private `.tmp-` directory, renamed into place afterwards), modes
 * exact, times now, owned by the distribution's user. ROOTFS_DIGEST_SCRIPT follows it.
 */
export const ROOTFS_EXTRACT_SCRIPT = [
  'set -e; r=$1; test -d "$r"',
  'tar -x -p -m --no-same-owner -f - -C "$r"',
].join("; ");

/**
 * The metadata digest of the tree at $1 (every entry's path, kind, size, mode, mtime and link
 * target, sorted) and its size in KiB, one per line.
 */
export const ROOTFS_DIGEST_SCRIPT = [
  'set -e; cd "$1"',
  "find . -printf '%P\t%y\t%s\t%m\t%T@\t%l\n' | LC_ALL=C sort | sha256sum | cut -d' ' -f1",
  "du -sk . | cut -f1",
].join("; ");

/** Stack roots written inside the distribution (see ROOTFS_EXTRACT_SCRIPT). */
export function distroRootfsWriter(
  host: Host,
  facts: GuestFacts,
  guestPath: (p: string) => string,
): RootfsWriter {
  const inDistro = async (
    name: string,
    script: string,
    root: string,
    stdin?: ReadableStream<Uint8Array>,
  ) => {
    const step: Step = {
      name,
      argv: ["/bin/sh", "-c", script, "sh", guestPath(root)],
      env: { PATH: facts.login.PATH || "/usr/bin:/bin", HOME: facts.login.HOME, LC_ALL: "C" },
      cwd: "/",
      dropRoot: false,
      mounts: [],
    };
    const cmd = host.wrap(step);
    const { run } = await import("../util/runner.ts");
    const r = await run(cmd.argv, {
      env: cmd.env,
      clearEnv: true,
      cwd: cmd.cwd,
      stdin: stdin ?? "null",
      hint: "install WSL with `wsl --install` (Windows 10 2004+ or Windows 11)",
      exitCode: ExitCode.unsupported,
    });
    const [digest, kib] = r.stdout.trim().split("\n");
    if (r.code !== 0 || !/^[0-9a-f]{64}$/.test(digest ?? "") || !/^\d+$/.test(kib ?? "")) {
      const why = r.stderr.trim().split("\n").pop();
      throw new LocaldError(
        `could not ${name} in the WSL distribution${why ? `: ${why}` : ""}`,
        {
          hint: "nothing was kept; run the command again to retry (the distribution needs " +
            "GNU tar and findutils)",
          exitCode: ExitCode.download,
        },
      );
    }
    return { treeDigest: digest, size: Number(kib) * 1024 };
  };
  return {
    async extract(layers, root) {
      const { flattenLayers } = await import("../oci/flatten.ts");
      const { MOUNT_POINTS } = await import("../oci/rootfs.ts");
      const { osReleaseVars } = await import("../util/os_release.ts");
      // Every layer's headers are vetted here first: a hostile layer stops before any byte.
      const flat = await flattenLayers(layers, MOUNT_POINTS);
      const measured = await inDistro(
        "extract the image's root filesystem",
        `${ROOTFS_EXTRACT_SCRIPT}; ${ROOTFS_DIGEST_SCRIPT}`,
        root,
        flat.stream,
      ).catch((e) => {
        throw flat.error() ?? e;
      });
      if (flat.error()) throw flat.error();
      // What Windows cannot read back through \\wsl.localhost (the links): from the model.
      return { ...measured, osRelease: osReleaseVars(flat.osRelease()), layout: flat.layout() };
    },
    async digest(root) {
      return (await inDistro("measure the root filesystem", ROOTFS_DIGEST_SCRIPT, root))
        .treeDigest;
    },
  };
}

/**
 * Why nothing can run under bwrap in the distribution (`--sandbox`, a stack build's steps and
 * dev commands): one line with the fix. A distribution without bwrap says how to install it.
 */
export function wslSandboxError(
  distro: string,
  sandbox: GuestSandbox | undefined,
  why: string,
): LocaldError {
  if (sandbox && !sandbox.bwrap) {
    return new LocaldError(
      `cannot run ${why} under bwrap: the WSL distribution ${distro} has no bwrap (bubblewrap)`,
      {
        hint: `install it in the distribution (\`wsl -d ${distro} -u root apt-get install -y ` +
          "bubblewrap`), or build on the host's userland (`locald build --host`)",
        exitCode: ExitCode.unsupported,
      },
    );
  }
  const said = sandbox?.error ?? "the distribution did not say";
  return new LocaldError(
    `cannot run ${why} under bwrap: bwrap in the WSL distribution ${distro} cannot create a ` +
      `sandbox: ${said}`,
    {
      hint: `try \`wsl -d ${distro} bwrap --ro-bind / / true\` there (a distribution that ` +
        "restricts user namespaces, such as Ubuntu 24.04 with AppArmor, needs a profile for " +
        "bwrap), or build on the host's userland (`locald build --host`)",
      exitCode: ExitCode.unsupported,
    },
  );
}

/** Download and verify on Windows, unpack inside the distro with the distro's tar. */
async function installInDistro(
  host: Host,
  facts: GuestFacts,
  env: Record<string, string>,
  downloads: string,
  out: Output,
  asset: string,
  dest: string,
) {
  const { expectedDigest, mirrorHint, releaseBase } = await import("../tools/install.ts");
  const { downloadVerified } = await import("../tools/download.ts");
  const a = LIFECYCLE.assets[asset];
  if (!a) {
    throw new LocaldError(`lifecycle ${LIFECYCLE.version} has no release for ${asset}`, {
      hint: `supported: ${Object.keys(LIFECYCLE.assets).join(", ")}`,
      exitCode: ExitCode.unsupported,
    });
  }
  const { LIFECYCLE_OFFLINE } = await import("../tools/lifecycle.ts");
  const { netTimeoutMs } = await import("../util/net.ts");
  const { sha256 } = await expectedDigest(LIFECYCLE, asset, env, out, LIFECYCLE_OFFLINE);
  const archive = await downloadVerified({
    url: `${releaseBase(LIFECYCLE, env)}/${a.file}`,
    dest: join(downloads, a.file),
    sha256,
    label: `${LIFECYCLE.name} ${LIFECYCLE.version}`,
    out,
    hint: mirrorHint(LIFECYCLE, env),
    timeoutMs: netTimeoutMs(env),
    offline: LIFECYCLE_OFFLINE,
  });
  const step: Step = {
    name: "install-lifecycle",
    argv: ["/bin/sh", "-c", UNPACK_SCRIPT, "sh", dest],
    env: { PATH: facts.login.PATH || "/usr/bin:/bin", HOME: facts.login.HOME },
    cwd: "/",
    dropRoot: false,
    mounts: [],
  };
  const cmd = host.wrap(step);
  const { run } = await import("../util/runner.ts");
  const file = await Deno.open(archive, { read: true });
  const status = await run(cmd.argv, {
    env: cmd.env,
    clearEnv: true,
    cwd: cmd.cwd,
    stdin: file.readable,
    hint: "install WSL with `wsl --install` (Windows 10 2004+ or Windows 11)",
    exitCode: ExitCode.unsupported,
  });
  if (status.code !== 0) {
    const why = status.stderr.trim().split("\n").pop();
    throw new LocaldError(
      `could not unpack the lifecycle in the WSL distribution${why ? `: ${why}` : ""}`,
      {
        hint: "nothing was installed; run the command again to retry",
        exitCode: ExitCode.download,
      },
    );
  }
  await removeIfExists(archive);
}

/** The WSL distribution locald would use, without starting it. */
async function wslStatus({ env }: EnvAndDirs, reason: string): Promise<BackendStatus> {
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

/** `locald vm SUB` on WSL: the distribution builds run in (it is the user's). */
async function wslVm(sub: string, req: VmRequest): Promise<number> {
  const { out, env } = req;
  const w = await import("./wsl.ts");
  const { wslContext } = await import("./vm.ts");
  const c = await wslContext(env);
  const d = c.distro.name;
  const { run } = await import("../util/runner.ts");
  const inherit = (args: string[]) =>
    run([c.wsl, ...args], { env, stdin: "inherit", stdout: "inherit", stderr: "inherit" });
  if (sub === "status") {
    if (req.json) {
      out.json({
        backend: "wsl",
        distro: d,
        reason: c.reason,
        status: c.distro.state,
        version: c.distro.version,
      });
    } else {
      out.info(`WSL distribution ${d} (${c.reason}): ${c.distro.state}, WSL ${c.distro.version}`);
    }
    return 0;
  }
  if (sub === "start") {
    const guest = await w.probeGuest(c.wsl, d, env);
    out.info(
      `WSL distribution ${d} (${c.reason}) is running; locald's state is in ` +
        w.wslToWindows(w.wslStateDir(guest.home), d),
    );
    return 0;
  }
  if (sub === "stop") {
    const s = await inherit(["--terminate", d]);
    if (s.code !== 0) {
      throw new LocaldError(`wsl.exe --terminate ${d} failed (exit ${s.code})`, {
        hint: "`wsl --shutdown` stops every distribution",
        exitCode: ExitCode.failure,
      });
    }
    out.info(`WSL distribution ${d} is stopped`);
    return 0;
  }
  if (sub === "shell") {
    const dir = await w.wslpath(c.wsl, d, req.dir, env);
    return (await inherit(["-d", d, "--cd", dir])).code;
  }
  // rm: the distribution is the user's; remove only what locald put in it.
  const guest = await w.probeGuest(c.wsl, d, env);
  const state = w.wslStateDir(guest.home);
  const r = await run([c.wsl, ...w.wslProbeArgs(d, ["rm", "-rf", "--", state])], { env });
  if (r.code !== 0) {
    throw new LocaldError(`could not remove ${w.wslToWindows(state, d)} (exit ${r.code})`, {
      hint: `remove it yourself with \`wsl -d ${d} rm -rf ${state}\``,
      exitCode: ExitCode.failure,
    });
  }
  out.info(
    `removed locald's state from ${d} (${w.wslToWindows(state, d)}); ` +
      "the distribution itself is yours and stays",
  );
  return 0;
}

/**
 * Whether bwrap can sandbox a step in the distribution (what --sandbox and a stack build would
 * meet), asked only when it is running: doctor starts nothing.
 */
async function wslSandboxStatus({ env }: EnvAndDirs): Promise<BackendStatus> {
  const c = await wslContext(env);
  const d = c.distro.name;
  const where = `the WSL distribution ${d}`;
  if (!/^running$/i.test(c.distro.state)) {
    return {
      status: "info",
      summary: `in ${where}: not asked while it is ${c.distro.state.toLowerCase()}`,
      hint: "`locald vm start` starts it (or the first build does); doctor then asks it",
      data: { where: "wsl", available: null, bwrap: null, reason: null },
    };
  }
  const s = (await probeGuest(c.wsl, d, env)).sandbox;
  const data = {
    where: "wsl",
    available: s?.works ?? null,
    bwrap: s?.bwrap || null,
    reason: s && !s.works ? (s.bwrap ? s.error ?? null : "no bwrap in the distribution") : null,
  };
  if (s?.works) {
    return { status: "ok", summary: `available in ${where}: bwrap at ${s.bwrap}`, data };
  }
  const e = wslSandboxError(d, s, "sandboxed builds");
  return {
    status: "warn",
    summary: `not available in ${where}: ${data.reason ?? "the distribution did not say"} ` +
      "(sandboxed and image builds stop; builds stay on the host's userland)",
    hint: e.hint,
    data,
  };
}

export const driver: BackendDriver = {
  open: openWslBackend,
  status: wslStatus,
  sandboxStatus: wslSandboxStatus,
  vm: wslVm,
};
