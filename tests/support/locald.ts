/**
 * Run locald the way a user does: `deno run -A <repo>/main.ts ARGS` as a child process, with a
 * given environment, working directory and standard input; capture stdout, stderr and the exit
 * code. `testEnv()` builds a clean environment whose LOCALD_HOME is a fresh temporary directory.
 */
import { join } from "node:path";

export const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const MAIN = join(REPO, "main.ts");

export interface RunOptions {
  /** The child's whole environment (use testEnv()); not merged with this process's. */
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string | Uint8Array;
  signal?: AbortSignal;
  /** Flags for deno itself, before main.ts (such as --deny-read=PATH: what locald may not read). */
  denoFlags?: string[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, or undefined when it is not JSON. */
  json?: unknown;
}

export function denoArgs(args: string[], denoFlags: string[] = []): string[] {
  return ["run", "-A", ...denoFlags, "--quiet", "--config", join(REPO, "deno.json"), MAIN, ...args];
}

/**
 * Run locald with Deno's debug log, which names every module loaded: its exit code, stderr
 * (the log included) and the modules (repository files as `/src/...` paths, npm packages and
 * Deno's own `node:` and `ext:` modules as Deno names them), in load order.
 */
export async function withModuleLog(args: string[], env: Record<string, string>) {
  const res = await new Deno.Command(Deno.execPath(), {
    args: denoArgs(args).map((a) => a === "--quiet" ? "--log-level=debug" : a),
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(res.stderr);
  // deno-lint-ignore no-control-regex
  const log = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const loaded = [...new Set([...log.matchAll(/ES module: (\S+?), \[/g)].map((m) => m[1]))];
  return { code: res.code, stderr, loaded };
}

/** Start locald and leave it running (for tests that interrupt it). */
export function spawnLocald(args: string[], opts: RunOptions = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: denoArgs(args, opts.denoFlags),
    env: opts.env ?? Deno.env.toObject(),
    clearEnv: true,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: opts.signal,
  }).spawn();
}

export async function runLocald(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawnLocald(args, opts);
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin,
    );
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  let json: unknown;
  try {
    json = out.trim() ? JSON.parse(out) : undefined;
  } catch { /* not JSON */ }
  return { code, stdout: out, stderr: new TextDecoder().decode(stderr), json };
}

let denoDir: string | undefined;

/** Where this deno keeps its module cache, so children reuse it instead of downloading. */
export async function hostDenoDir(): Promise<string> {
  if (denoDir) return denoDir;
  const fromEnv = Deno.env.get("DENO_DIR");
  if (fromEnv) return (denoDir = fromEnv);
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  denoDir = JSON.parse(new TextDecoder().decode(stdout)).denoDir as string;
  return denoDir;
}

export interface TestEnv {
  env: Record<string, string>;
  /** A temporary directory that holds home/ (HOME) and locald/ (LOCALD_HOME). */
  root: string;
  home: string;
  localdHome: string;
  cleanup(): Promise<void>;
}

/**
 * A clean environment: PATH, a temporary HOME and LOCALD_HOME, NO_COLOR, the deno module
 * cache, and `extra` on top. Nothing else leaks in from the test runner (no LOCALD_*).
 */
export async function testEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const root = await Deno.makeTempDir({ prefix: "locald-test-" });
  const home = join(root, "home");
  const localdHome = join(root, "locald");
  await Deno.mkdir(home);
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LOCALD_HOME: localdHome,
    NO_COLOR: "1",
    DENO_DIR: await hostDenoDir(),
    DENO_NO_UPDATE_CHECK: "1",
    LANG: "C.UTF-8",
    ...extra,
  };
  return {
    env,
    root,
    home,
    localdHome,
    cleanup: () => Deno.remove(root, { recursive: true }).catch(() => {}),
  };
}

/** A test environment on the WSL backend, driven through the stand-in wsl.exe. */
export interface WslTestEnv extends TestEnv {
  /** The stand-in's state: its distros, its calls.jsonl, the distribution user's home/. */
  wsl: string;
  /** Every wsl.exe call so far (its argv). */
  calls(): Promise<{ argv: string[] }[]>;
}

export async function wslTestEnv(extra: Record<string, string> = {}): Promise<WslTestEnv> {
  const t = await testEnv({
    LOCALD_BACKEND: "wsl",
    LOCALD_WSL_EXE: join(REPO, "tests", "standins", "wsl.exe"),
    ...extra,
  });
  const wsl = join(t.root, "wsl");
  await Deno.mkdir(wsl);
  t.env.LOCALD_STANDIN_WSL = wsl;
  const calls = async () =>
    (await Deno.readTextFile(join(wsl, "calls.jsonl"))).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { argv: string[] });
  return { ...t, wsl, calls };
}
