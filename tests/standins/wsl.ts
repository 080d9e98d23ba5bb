/**
 * A stand-in for Windows' wsl.exe, for tests on Linux. It records every call (argv,
 * environment, working directory) as one JSON line in $LOCALD_STANDIN_WSL/calls.jsonl and
 * answers:
 *   -l -v                     NAME STATE VERSION table, `*` on the default, in UTF-16LE with
 *                             CRLF (UTF-8 when WSL_UTF8=1), like wsl.exe's own messages
 *   --terminate D             marks D stopped
 *   -d D [--cd DIR] --exec ARGV...   runs ARGV on this machine in DIR with the environment WSL
 *                             would give it: the variables named in WSLENV (values copied
 *                             unchanged) plus WSL's own (PATH with Windows directories,
 *                             WSL_DISTRO_NAME, WSL_INTEROP, ...)
 *   -d D [--cd DIR]           a login shell reading stdin
 * Distributions come from $LOCALD_STANDIN_WSL/distros (lines "NAME STATE VERSION [default]").
 * $LOCALD_STANDIN_WSL/path, when present, is the distribution's PATH (a distribution without
 * bwrap: a directory of links to the few tools a test needs).
 * What it cannot prove: that Windows' command-line quoting and the real WSLENV carry bytes the
 * same way, or that a real distribution boots.
 */
import { standinArgs } from "./argv.ts";

const ARGS = standinArgs();
const env = Deno.env.toObject();
const state = env.LOCALD_STANDIN_WSL;
if (!state) {
  console.error("stand-in wsl.exe: LOCALD_STANDIN_WSL is not set");
  Deno.exit(1);
}
Deno.writeTextFileSync(
  `${state}/calls.jsonl`,
  JSON.stringify({ argv: ARGS, env, cwd: Deno.cwd() }) + "\n",
  { append: true },
);

interface Distro {
  name: string;
  state: string;
  version: string;
  isDefault: boolean;
}
function distros(): Distro[] {
  let text = "Ubuntu-24.04 Running 2 default\ndocker-desktop Stopped 2\nLegacy Stopped 1\n";
  try {
    text = Deno.readTextFileSync(`${state}/distros`);
  } catch { /* defaults */ }
  return text.split("\n").filter((l) => l.trim()).map((l) => {
    const [name, st, version, def] = l.trim().split(/\s+/);
    return { name, state: st, version, isDefault: def === "default" };
  });
}
/**
 * Written aside and renamed into place: calls run at once (doctor's checks do), and one that
 * read the file while another rewrote it in place would find no distribution at all.
 */
function saveDistros(list: Distro[]) {
  const tmp = `${state}/distros.tmp-${Deno.pid}`;
  Deno.writeTextFileSync(
    tmp,
    list.map((d) => `${d.name} ${d.state} ${d.version}${d.isDefault ? " default" : ""}\n`).join(""),
  );
  Deno.renameSync(tmp, `${state}/distros`);
}

/** wsl.exe's own output: UTF-16LE with CRLF unless WSL_UTF8=1. */
function say(text: string, to: "stdout" | "stderr" = "stdout") {
  const t = text.replace(/\n/g, "\r\n");
  let bytes: Uint8Array;
  if (env.WSL_UTF8 === "1") bytes = new TextEncoder().encode(t);
  else {
    bytes = new Uint8Array(t.length * 2);
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      bytes[2 * i] = c & 0xff;
      bytes[2 * i + 1] = c >> 8;
    }
  }
  (to === "stdout" ? Deno.stdout : Deno.stderr).writeSync(bytes);
}

const args = [...ARGS];
if (args[0] === "-l" && args[1] === "-v") {
  let out = "  NAME              STATE           VERSION\n";
  for (const d of distros()) {
    out += `${d.isDefault ? "*" : " "} ${d.name.padEnd(17)} ${d.state.padEnd(15)} ${d.version}\n`;
  }
  say(out);
  Deno.exit(0);
}
if (args[0] === "--terminate") {
  const list = distros();
  const d = list.find((x) => x.name.toLowerCase() === args[1]?.toLowerCase());
  if (!d) {
    say(
      "There is no distribution with the supplied name.\nError code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n",
    );
    Deno.exit(1);
  }
  d.state = "Stopped";
  saveDistros(list);
  say("The operation completed successfully.\n");
  Deno.exit(0);
}

let distro: string | undefined;
let cd: string | undefined;
let argv: string[] | undefined;
while (args.length) {
  const a = args.shift()!;
  if (a === "-d" || a === "--distribution") distro = args.shift();
  else if (a === "--cd") cd = args.shift();
  else if (a === "-e" || a === "--exec") {
    argv = args.splice(0);
  } else {
    say(`stand-in wsl.exe does not implement ${a}\n`, "stderr");
    Deno.exit(1);
  }
}
const list = distros();
const d = list.find((x) => x.name.toLowerCase() === (distro ?? "").toLowerCase()) ??
  (distro ? undefined : list.find((x) => x.isDefault));
if (!d) {
  say(
    "There is no distribution with the supplied name.\nError code: Wsl/Service/WSL_E_DISTRO_NOT_FOUND\n",
  );
  Deno.exit(1);
}
if (d.state !== "Running") {
  d.state = "Running";
  saveDistros(list);
}

const home = `${state}/home`;
Deno.mkdirSync(home, { recursive: true });
const guestEnv: Record<string, string> = {
  HOME: home,
  USER: "root",
  LOGNAME: "root",
  SHELL: "/bin/bash",
  PATH: (() => {
    try {
      return Deno.readTextFileSync(`${state}/path`).trim();
    } catch {
      return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/mnt/c/WINDOWS/system32";
    }
  })(),
  WSL_DISTRO_NAME: d.name,
  WSL_INTEROP: "/run/WSL/1_interop",
  NAME: "DESKTOP-STANDIN",
  HOSTTYPE: "x86_64",
  LANG: "C.UTF-8",
};
for (const entry of (env.WSLENV ?? "").split(":").filter(Boolean)) {
  const name = entry.split("/")[0];
  if (name in env) guestEnv[name] = env[name];
}
const r = await new Deno.Command(argv ? argv[0] : "/bin/sh", {
  args: argv ? argv.slice(1) : ["-l"],
  cwd: cd?.startsWith("/") ? cd : home,
  clearEnv: true,
  env: guestEnv,
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn().status;
Deno.exit(r.code);
