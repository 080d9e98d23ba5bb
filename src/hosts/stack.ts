/**
 * Stack mode: a step runs in an image's root filesystem (the builder's for the phases, the run
 * image's for dev commands) under bubblewrap, so what it finds in /usr, /lib and /etc is what
 * production has, whatever the host's distribution. No daemon: the root is a directory that
 * src/oci/rootfs.ts extracted once per image digest, shown read-only.
 *
 * Where a backend cannot read a root's tree from this side (WSL), its record (RootLayoutRecord,
 * written at extraction) stands in for it: the layout, shells and passwd/group come from there.
 *
 * The new root is bwrap's tmpfs. Every top-level entry of the image is bound read-only into it
 * (symlinks recreated; a directory empty in the image is an empty directory of the tmpfs, as
 * writable as the root itself), except /proc, /dev, /sys, /tmp and /run: bwrap's own (a dev
 * command gets the host's /proc, /dev and /tmp). A path the step mounts (the project, the
 * layers, HOME) that lands inside an image directory where the image has no such directory
 * cannot get a mount point in a read-only bind, so that directory is *opened up*: an empty
 * directory in the tmpfs, with the image's entries bound one by one and the mount point created
 * beside them (rootLayout()). /etc gets the host's resolv.conf and hosts
 * (name resolution as on the host) and, where given, passwd and group files with an entry for
 * the user a step runs as (userEntries()).
 *
 * Composed as the sandbox is: `backend.host.wrap(stackStep(step, o))`, where `o` is the
 * backend's sandboxOptions() with `system` replaced by stackSystem() for this step and root.
 * A build step keeps the sandbox's rules (environment cut to the allow-list, an empty HOME, its
 * own process namespaces); a dev command (`dev`) keeps the user's environment, HOME and /tmp,
 * and the host's processes (pid, IPC, UTS and cgroup namespaces), as it would on the host.
 *
 * Light on purpose (no node:path): dev commands load it on their start-up path.
 */
import type { Mount, Step } from "./types.ts";
import {
  bwrapArgs,
  sandboxEnv,
  sandboxHome,
  type SandboxOptions,
  type SystemEntry,
} from "./sandbox.ts";
import { isAbsolute, resolve } from "../util/path.ts";
import { lstatIf } from "../util/fs.ts";
import {
  diskReader,
  recordReader,
  type RootLayoutRecord,
  type RootReader,
} from "../oci/root_layout.ts";

/** The backend's sandbox options, with `system` from stackSystem(). */
export interface StackOptions extends SandboxOptions {
  /** A dev command: the user's environment, HOME and /tmp are kept. */
  dev?: boolean;
}

/** A path the step will mount over the root, and whether the mount is a file. */
export interface KeepPath {
  path: string;
  file?: boolean;
}

/** Top-level image entries never shown: the step gets private ones (or the host's /tmp). */
const PRIVATE_TOP = new Set(["proc", "dev", "sys", "tmp", "run"]);

/** Host files bound over the image's (name resolution as on the host); skipped when absent. */
export const HOST_ETC = ["/etc/resolv.conf", "/etc/hosts"];

const under = (p: string, dir: string) => p.startsWith(dir === "/" ? "/" : dir + "/");

/** Whether the image already has `k` as a mount point of the right kind, with no link on the way. */
function hasMountPoint(r: RootReader, from: string, k: KeepPath): boolean {
  let p = from;
  for (const part of k.path.slice(from.length + 1).split("/")) {
    p = `${p}/${part}`;
    const kind = r.kind(p);
    if (!kind || kind === "l") return false;
    if (p !== k.path && kind !== "d") return false;
  }
  return r.kind(k.path) === (k.file ? "f" : "d");
}

/**
 * The entries that show the root filesystem at `root` (host view; `guestRoot` is the same
 * directory as steps see it) as `/`, leaving room for mounts at `keep`. Impure: reads the
 * root's top level and, where a mount needs it, the directories on the way to the mount; with
 * `layout` (the root's record), the record instead, as far as it goes (LAYOUT_DEPTH).
 */
export function rootLayout(
  root: string,
  keep: KeepPath[],
  guestRoot = root,
  layout?: RootLayoutRecord,
): SystemEntry[] {
  const keeps = keep.filter((k) => isAbsolute(k.path)).map((k) => ({
    ...k,
    path: resolve(k.path),
  }));
  const r = layout ? recordReader(layout, root) : diskReader(root);
  const out: SystemEntry[] = [];
  const open = (dir: string) => {
    const names = r.list(dir)?.sort();
    if (!names) return;
    for (const name of names) {
      if (dir === "/" && PRIVATE_TOP.has(name)) continue;
      const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
      const kind = r.kind(p);
      if (!kind) continue;
      const hits = keeps.filter((k) => k.path === p || under(k.path, p));
      if (hits.some((k) => k.path === p)) continue; // the mount takes its place
      if (kind === "l") {
        // A mount beneath an image link gets real directories instead of the link.
        if (hits.length === 0) out.push({ path: p, symlink: r.link(p) });
      } else if (kind === "d") {
        if (hits.length === 0 && r.list(p)?.length === 0) {
          // Empty in the image (/srv, /mnt, /opt...): an empty directory of the new root
          // shows the same, without a bind and its read-only remount (a fraction of a ms each).
          out.push({ path: p, dir: true });
        } else if (hits.every((k) => hasMountPoint(r, p, k))) {
          out.push({ path: p, source: guestRoot + p });
        } else {
          out.push({ path: p, dir: true });
          open(p);
        }
      } else if (kind === "f" && hits.length === 0) {
        out.push({ path: p, source: guestRoot + p });
      }
      // Sockets, fifos and devices in an image are never shown.
    }
  };
  open("/");
  return out;
}

/** HOME as a dev command sees it: the user's own, when it is a usable absolute path. */
function devHome(step: Step): string | undefined {
  const h = step.env.HOME;
  return h && isAbsolute(h) && resolve(h) !== "/" ? resolve(h) : undefined;
}

/** Where HOME is inside: a dev command's own (mounted), else an empty tmpfs as in the sandbox. */
function stepHome(step: Step, dev: boolean): string {
  return (dev ? devHome(step) : undefined) ?? sandboxHome(step.env.HOME);
}

/** The step's mounts, with what a dev command adds (HOME and /tmp from the host, writable). */
function stackMounts(step: Step, dev: boolean): Mount[] {
  if (!dev) return step.mounts;
  const home = devHome(step);
  return [
    ...step.mounts,
    { path: "/tmp", writable: true },
    ...(home ? [{ path: home, writable: true }] : []),
  ];
}

export interface StackSystemOptions {
  /** The root filesystem, host view. */
  root: string;
  /** The same directory as steps see it (default: `root`). */
  guestRoot?: string;
  dev?: boolean;
  /** Files (as steps see them) bound over image files: `{ "/etc/passwd": "<state>/passwd" }`. */
  etc?: Record<string, string>;
  /** Whether a mount source is a file (default: lstat of the source, host view). */
  isFile?: (m: Mount) => boolean;
  /** The root's record (rootfs.json `layout`): read instead of the tree (see rootLayout). */
  layout?: RootLayoutRecord;
}

/**
 * The `system` of a stack step: the root's layout with room for every mount the step makes,
 * then /run, the host's resolv.conf and hosts, and the given /etc files. Impure (rootLayout).
 */
export function stackSystem(step: Step, o: StackSystemOptions): SystemEntry[] {
  const dev = o.dev ?? false;
  const isFile = o.isFile ?? ((m: Mount) => lstatIf(m.source ?? m.path)?.isFile ?? false);
  const home = stepHome(step, dev);
  const etc = { ...Object.fromEntries(HOST_ETC.map((p) => [p, p])), ...o.etc };
  const keep: KeepPath[] = [
    ...stackMounts(step, dev).map((m) => ({ path: m.path, file: isFile(m) })),
    { path: home },
    { path: "/var/tmp" },
    ...Object.keys(etc).map((path) => ({ path, file: true })),
  ];
  return [
    ...rootLayout(o.root, keep, o.guestRoot, o.layout),
    { path: "/run", tmpfs: true },
    ...Object.entries(etc).map(([path, source]) => ({
      path,
      source,
      optional: HOST_ETC.includes(path) && source === path,
    })),
  ];
}

/**
 * The step as it runs in the root filesystem (`o.system` from stackSystem()). Pure. A build
 * step is sandboxed as by sandboxStep(); a dev command keeps its environment and gets the host's
 * HOME and /tmp.
 */
export function stackStep(step: Step, o: StackOptions): Step {
  const dev = o.dev ?? false;
  const s: Step = { ...step, mounts: stackMounts(step, dev) };
  const home = stepHome(step, dev);
  return {
    ...step,
    // A dev command shares the host's process namespaces, as on the host (and bwrap starts
    // faster without making them); a build step gets its own.
    argv: [o.bwrap, ...bwrapArgs(s, dev ? { ...o, hostNamespaces: true } : o, home), ...step.argv],
    env: dev ? { ...step.env, HOME: home } : sandboxEnv(step.env, home, o.allowEnv),
    cwd: "/",
    dropRoot: false,
  };
}

/** What userEntries() adds for the user a step runs as. */
export interface StackUser {
  uid: number;
  gid: number;
  name: string;
  home: string;
  shell: string;
}

/**
 * The image's passwd and group with an entry for `u` where it has none (by id); undefined when
 * both already have one (the image's files are used as they are). Names already taken get a
 * `locald-` prefix. Pure.
 */
export function userEntries(
  passwd: string,
  group: string,
  u: StackUser,
): { passwd: string; group: string } | undefined {
  const rows = (text: string) =>
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
  const pw = rows(passwd);
  const gr = rows(group);
  const hasUser = pw.some((r) => r[2] === String(u.uid));
  const hasGroup = gr.some((r) => r[2] === String(u.gid));
  if (hasUser && hasGroup) return undefined;
  const free = (name: string, taken: string[][]) =>
    taken.some((r) => r[0] === name) ? `locald-${name}` : name;
  const clean = (s: string) => s.replace(/[:\n]/g, "_");
  const end = (t: string) => (t === "" || t.endsWith("\n") ? t : t + "\n");
  const groupName = free(clean(u.name), gr);
  return {
    passwd: hasUser ? passwd : end(passwd) +
      `${free(clean(u.name), pw)}:x:${u.uid}:${u.gid}::${clean(u.home)}:${clean(u.shell)}\n`,
    group: hasGroup ? group : end(group) + `${groupName}:x:${u.gid}:\n`,
  };
}
