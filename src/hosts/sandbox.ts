/**
 * The sandbox: a step runs under bubblewrap (bwrap) in fresh namespaces, seeing only
 * the system directories, a chosen part of /etc, private /proc, /dev and /tmp, an empty HOME,
 * and exactly the step's mounts (writable ones read-write, the rest read-only). The
 * environment is cut to an allow-list, capabilities are dropped, and the sandbox dies with
 * locald. As root, a step that must not run as root runs as uid 1000 inside a user namespace
 * that maps it to root outside, so what it writes stays root's on disk.
 *
 * The same runner shows host paths elsewhere inside (Mount.source): an image build can see
 * the project at /workspace and its layers at /layers.
 *
 * `sandboxStep()` is the one way in: it turns a step into the step that runs it under bwrap,
 * which the backend's host then wraps as any other (`host.wrap(sandboxStep(step, o))`): on
 * this machine, or inside the VM on Lima. It and `bwrapArgs()` are pure: facts about the
 * system (where bwrap is, which system paths exist) come in as options, gathered once by
 * `systemLayout()` and src/hosts/sandbox_check.ts (or the VM's probe).
 */
import { dirname, isAbsolute, resolve } from "../util/path.ts";
import type { Mount, Step } from "./types.ts";
import { PASSTHROUGH_ENV } from "./target.ts";
import { NAMESPACE_ID } from "./native.ts";
import type { Network } from "../config/defaults.ts";

/**
 * A system path shown read-only: bound as is, or recreated as the same symlink. A root
 * filesystem (src/hosts/stack.ts) also binds from elsewhere (`source`), creates empty
 * directories (`dir`) and tmpfs mounts (`tmpfs`), and binds files that may be absent (`optional`).
 */
export interface SystemEntry {
  path: string;
  /** Recreate as a symlink with this target instead of binding (merged-/usr layouts). */
  symlink?: string;
  /** Bind this path (as steps see it) at `path`; unset: the same path. */
  source?: string;
  /** An empty directory (its children are listed after it). */
  dir?: boolean;
  /** A private tmpfs. */
  tmpfs?: boolean;
  /** Skip the bind when `source` is absent (bwrap's --ro-bind-try). */
  optional?: boolean;
}

export interface SandboxOptions {
  /** Absolute path of bwrap (from checkSandbox()). */
  bwrap: string;
  /** locald's own uid and gid. */
  uid: number;
  gid: number;
  /** "none": a private network namespace with only loopback. Default: the host's network. */
  network?: Network;
  /** System paths that exist here (systemLayout()). */
  system: SystemEntry[];
  /** Extra environment variable names a step may keep (beyond SANDBOX_ENV and CNB_*). */
  allowEnv?: string[];
  /** The ids a step runs as inside, when fixed (a stack build: the builder's CNB_USER_ID). */
  inside?: { uid: number; gid: number };
  /**
   * Keep the host's process, IPC, UTS and cgroup namespaces: only the user and mount
   * namespaces are new (a stack build's dev command, which sees the host's processes as on
   * the host; each namespace bwrap makes and tears down costs its start-up time). Its /proc
   * and /dev are the host's too.
   */
  hostNamespaces?: boolean;
}

/** Top-level system directories shown read-only (when they exist). */
export const SYSTEM_DIRS = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/nix/store",
];

/**
 * The parts of /etc a build needs: name resolution, CA certificates, users and groups (names
 * for ids), the dynamic linker's cache, time zone, OS identity, shells' system profiles,
 * Debian's alternatives symlinks. Not shown: shadow files, sudoers, ssh host keys, machine-id,
 * and package managers' configuration (npmrc, pip.conf), which can carry credentials.
 */
export const ETC_ENTRIES = [
  "/etc/alternatives",
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/ca-certificates.conf",
  "/etc/pki",
  "/etc/crypto-policies",
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/host.conf",
  "/etc/nsswitch.conf",
  "/etc/gai.conf",
  "/etc/services",
  "/etc/protocols",
  "/etc/passwd",
  "/etc/group",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/localtime",
  "/etc/timezone",
  "/etc/os-release",
  "/etc/lsb-release",
  "/etc/debian_version",
  "/etc/alpine-release",
  "/etc/redhat-release",
  "/etc/fedora-release",
  "/etc/locale.alias",
  "/etc/locale.conf",
  "/etc/mime.types",
  "/etc/shells",
  "/etc/profile",
  "/etc/profile.d",
  "/etc/bash.bashrc",
  "/etc/bashrc",
  "/etc/inputrc",
  "/etc/zsh",
  "/etc/zshenv",
  "/etc/zshrc",
  "/etc/fish",
  "/etc/gitconfig",
];

/** Variables a sandboxed step may keep besides the build allow-list and CNB_*. */
export const SANDBOX_ENV = [
  ...PASSTHROUGH_ENV,
  "COLORTERM",
  "SHELL",
  "LOCALD_SHELL",
  "LOCALD_PROJECT",
];

/** Inside the sandbox, HOME is an empty tmpfs at this path unless the host's HOME can be used. */
export const FALLBACK_HOME = "/home/locald";

const RESERVED = ["/", "/proc", "/dev", "/etc", ...SYSTEM_DIRS];

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : dir + "/");
}

/**
 * A dev command's mounts as the system bwrap runs on sees them: each source and mount point
 * through `guestPath` (on WSL, C:\Users\Ana Lopez\app is /mnt/c/Users/Ana Lopez/app and a
 * \\wsl.localhost\<distro>\... path its own Linux path; elsewhere the identity). Pure.
 */
export function guestMounts(mounts: Mount[], guestPath: (p: string) => string): Mount[] {
  return mounts.map((m) => {
    const path = guestPath(m.path);
    const source = guestPath(m.source ?? m.path);
    return { ...m, path, ...(source !== path ? { source } : {}) };
  });
}

/** Where the empty HOME goes: the host's HOME path (so paths look alike), when usable. */
export function sandboxHome(hostHome: string | undefined): string {
  if (!hostHome || !isAbsolute(hostHome)) return FALLBACK_HOME;
  const h = resolve(hostHome);
  if (h === "/" || RESERVED.some((r) => r !== "/" && within(h, r))) return FALLBACK_HOME;
  return h;
}

/** The step's environment cut to the allow-list, with HOME and TMPDIR pointing inside. */
export function sandboxEnv(
  env: Record<string, string>,
  home: string,
  allow: string[] = [],
): Record<string, string> {
  const keep = new Set([...SANDBOX_ENV, ...allow]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (keep.has(k) || k.startsWith("CNB_")) out[k] = v;
  }
  out.HOME = home;
  if (out.TMPDIR !== undefined) out.TMPDIR = "/tmp";
  out.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return out;
}

const depth = (p: string) => p.split("/").filter(Boolean).length;

/** Mounts in the order bwrap must make them: parents before children; duplicates dropped. */
export function orderMounts(mounts: Mount[]): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const m of mounts) {
    const path = resolve(m.path);
    const source = resolve(m.source ?? m.path);
    const key = `${path}\0${source}\0${m.writable}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, writable: m.writable, ...(source !== path ? { source } : {}) });
  }
  return out
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.path) - depth(b.m.path) || a.i - b.i)
    .map(({ m }) => m);
}

/** The uid/gid a step runs as inside: root drops to NAMESPACE_ID when the step asks. */
export function insideIds(step: Step, o: SandboxOptions): { uid: number; gid: number } {
  if (o.inside) return o.inside;
  if (o.uid === 0) {
    return step.dropRoot ? { uid: NAMESPACE_ID, gid: NAMESPACE_ID } : { uid: 0, gid: 0 };
  }
  return { uid: o.uid, gid: o.gid };
}

/** bwrap's arguments for a step, up to and including `--` (the step's argv follows). */
export function bwrapArgs(step: Step, o: SandboxOptions, home: string): string[] {
  const { uid, gid } = insideIds(step, o);
  const a = o.hostNamespaces ? [] : ["--unshare-all"];
  if (o.hostNamespaces && o.network === "none") a.push("--unshare-net");
  if (!o.hostNamespaces && (o.network ?? "default") === "default") a.push("--share-net");
  a.push("--die-with-parent");
  // A new session stops a step from pushing input into the terminal (TIOCSTI); a shell keeps
  // the terminal's session so job control and Ctrl-C work.
  if (!step.interactive) a.push("--new-session");
  a.push("--cap-drop", "ALL");
  a.push("--unshare-user", "--uid", String(uid), "--gid", String(gid));
  // What each option puts where, in order (a later mount covers an earlier one at its path).
  const put: { path: string; plainBind?: "rw" | "ro" }[] = [];
  const op = (name: string, ...args: string[]) => {
    a.push(name, ...args);
    const path = args[args.length - 1];
    const plain = (name === "--bind" || name === "--ro-bind") && args[0] === path;
    put.push({ path, plainBind: plain ? (name === "--bind" ? "rw" : "ro") : undefined });
  };
  for (const s of o.system) {
    if (s.symlink !== undefined) op("--symlink", s.symlink, s.path);
    else if (s.dir) op("--dir", s.path);
    else if (s.tmpfs) op("--tmpfs", s.path);
    else op(s.optional ? "--ro-bind-try" : "--ro-bind", s.source ?? s.path, s.path);
  }
  const mounts = orderMounts(step.mounts);
  // The host's processes are this /proc's (a new procfs needs a pid namespace of its own), and
  // its devices this /dev's (the terminal's /dev/pts entry, as `tty` names it on the host): one
  // bind instead of a tmpfs, six device binds and a new devpts, about 1 ms of every dev command.
  if (o.hostNamespaces) {
    op("--bind", "/proc", "/proc");
    op("--dev-bind", "/dev", "/dev");
  } else {
    op("--proc", "/proc");
    op("--dev", "/dev");
  }
  // A /tmp the step mounts (a dev command's, the host's) needs no tmpfs below it.
  if (!mounts.some((m) => m.path === "/tmp")) op("--tmpfs", "/tmp");
  op("--tmpfs", "/var/tmp");
  // HOME is hidden: an empty tmpfs, placed among the mounts by depth so a project inside the
  // home still shows through it. A HOME that is itself a mount was asked for and stays.
  const homeIsMount = mounts.some((m) => m.path === home);
  const items: ({ tmpfs: string } | Mount)[] = homeIsMount ? mounts : [
    ...mounts.filter((m) => depth(m.path) < depth(home)),
    { tmpfs: home },
    ...mounts.filter((m) => depth(m.path) >= depth(home)),
  ];
  for (const it of items) {
    if ("tmpfs" in it) op("--tmpfs", it.tmpfs);
    else if (!shownAlready(put, it)) {
      op(it.writable ? "--bind" : "--ro-bind", it.source ?? it.path, it.path);
    }
  }
  a.push("--chdir", step.cwd, "--");
  return a;
}

/**
 * Whether a mount would show what its path shows already: a host path bound at itself, inside
 * a host path bound at itself with the same access (a project in a shared HOME or /tmp). bwrap
 * binds recursively, so the inner bind would add only its cost (a bind and a remount, some
 * tenths of a millisecond on every dev command). What covers the path is the last option put
 * at or above it.
 */
function shownAlready(put: { path: string; plainBind?: "rw" | "ro" }[], m: Mount): boolean {
  if (m.source !== undefined) return false;
  const cover = put.findLast((p) => within(m.path, p.path));
  return cover?.plainBind !== undefined && (cover.plainBind === "rw") === m.writable;
}

/**
 * The step as bwrap runs it: argv starts with bwrap, the environment is cut to the allow-list,
 * and bwrap itself does the uid mapping (so the wrapper must not drop root again). A VM host
 * can wrap this step in turn to sandbox inside the VM (with the VM's bwrap and layout).
 */
export function sandboxStep(step: Step, o: SandboxOptions): Step {
  const home = sandboxHome(step.env.HOME);
  return {
    ...step,
    argv: [o.bwrap, ...bwrapArgs(step, o, home), ...step.argv],
    env: sandboxEnv(step.env, home, o.allowEnv),
    // bwrap's own working directory does not matter (--chdir sets the step's); a remapped
    // cwd may not even exist on the host.
    cwd: "/",
    dropRoot: false,
  };
}

/** What lstat says about one SYSTEM_DIRS/ETC_ENTRIES path (gathered here or in a guest). */
export type PathFact =
  | { path: string; kind: "plain" }
  | { path: string; kind: "symlink"; target: string; real: string };

/**
 * The system entries a sandbox shows, from the facts about each path. Pure. A top-level
 * symlink (/bin -> usr/bin) is recreated as a symlink; an /etc symlink into /usr likewise (so
 * readlink(/etc/localtime) still names the zone); other symlinks are bound through to their
 * target. Paths missing from `facts` (absent or dangling) are left out.
 */
export function layoutFromFacts(facts: PathFact[]): SystemEntry[] {
  return facts.map((f) => {
    if (f.kind === "plain") return { path: f.path };
    const topLevel = depth(f.path) === 1;
    const intoUsr = within(resolve(dirname(f.path), f.target), "/usr") && within(f.real, "/usr");
    return topLevel || intoUsr ? { path: f.path, symlink: f.target } : { path: f.path };
  });
}

/**
 * Which SYSTEM_DIRS and ETC_ENTRIES exist here, and how (impure: lstat only). Synchronous
 * calls: some forty paths, where an await each cost a build or a sandboxed command several
 * milliseconds of round trips.
 */
export function systemLayout(): Promise<SystemEntry[]> {
  const facts: PathFact[] = [];
  for (const path of [...SYSTEM_DIRS, ...ETC_ENTRIES]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch {
      continue;
    }
    if (!info.isSymlink) {
      facts.push({ path, kind: "plain" });
      continue;
    }
    try {
      facts.push({
        path,
        kind: "symlink",
        target: Deno.readLinkSync(path),
        real: Deno.realPathSync(path),
      });
    } catch {
      continue; // dangling
    }
  }
  return Promise.resolve(layoutFromFacts(facts));
}
