/**
 * A stand-in for Lima v2.2.0's `limactl`, for tests on machines that cannot boot a VM.
 *
 * It records every call (argv, environment, working directory) as one JSON line in
 * $LIMA_HOME/standin-calls.jsonl, keeps instance state in $LIMA_HOME/<name>/ the way Lima
 * lays it out (lima.yaml, ha.stderr.log) plus a `standin-status` file, and answers:
 *   list --json                       one JSON object per instance and line
 *   start [--tty=false] [--progress] [--name N] [FILE|N]   logrus-style progress on stderr
 *   stop N, delete [--force] N
 *   shell [--tty=false] [--workdir DIR] N [CMD...]
 * `shell` builds the remote command exactly as cmd/limactl/shell.go does (shellescape.Quote,
 * leading NAME=VALUE words quoted as assignments, `cd DIR || exit 1 ; exec "$SHELL" -l -c`)
 * and runs it with bash on this machine, the way sshd would run it in the guest. What it
 * cannot prove: that a VM boots, that ssh carries the bytes, that Ubuntu's login shell behaves
 * like this machine's bash.
 *
 * The guest's user: Lima's VM user is never root, has the Mac user's uid and owns the mounted
 * home. When the tests run as root, `shell` emulates that (and only that) by running the login
 * in a user namespace where root is mapped to uid 1000 (`unshare --user`, as locald's native
 * host does), so files locald writes on the "host" belong to the "guest" user, and the
 * lifecycle's detector and builder, which refuse root, run as they would in the VM. Create $LIMA_HOME/standin-fail-start to make `start` fail the way
 * a broken VM does.
 */
import { standinArgs } from "./argv.ts";

const ARGS = standinArgs();
const env = Deno.env.toObject();
const home = env.LIMA_HOME;
if (!home) fatal("LIMA_HOME is not set (locald must always set its private LIMA_HOME)");
Deno.mkdirSync(home, { recursive: true });
Deno.writeTextFileSync(
  `${home}/standin-calls.jsonl`,
  JSON.stringify({ argv: ARGS, env, cwd: Deno.cwd() }) + "\n",
  { append: true },
);

function log(level: string, msg: string) {
  console.error(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`);
}
function fatal(msg: string): never {
  log("fatal", msg);
  Deno.exit(1);
}

const dirOf = (name: string) => `${home}/${name}`;
function exists(p: string) {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}
function status(name: string): string {
  try {
    return Deno.readTextFileSync(`${dirOf(name)}/standin-status`).trim();
  } catch {
    return "Stopped";
  }
}
function setStatus(name: string, s: string) {
  Deno.writeTextFileSync(`${dirOf(name)}/standin-status`, s);
}

/** Flags before the first positional, cobra style (`--k=v`, `--k v`, booleans). */
function parse(args: string[], valued: string[]) {
  const flags: Record<string, string> = {};
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) break;
    const eq = a.indexOf("=");
    if (eq !== -1) flags[a.slice(2, eq)] = a.slice(eq + 1);
    else if (valued.includes(a.slice(2))) flags[a.slice(2)] = args[++i];
    else flags[a.slice(2)] = "true";
  }
  return { flags, rest: args.slice(i) };
}

const BYTES: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
function bytes(size: string | undefined): number | undefined {
  const m = /^"?([0-9.]+)\s*(KiB|MiB|GiB|TiB)"?$/.exec(size ?? "");
  return m ? Number(m[1]) * BYTES[m[2]] : undefined;
}

function instanceJson(name: string) {
  const yaml = Deno.readTextFileSync(`${dirOf(name)}/lima.yaml`);
  const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "m").exec(yaml)?.[1]?.trim();
  const mounts = [...yaml.matchAll(/^\s*- location: (".*")$/gm)]
    .map((m) => JSON.parse(m[1]) as string)
    .filter((l) => !l.startsWith("https://"));
  const s = status(name);
  return {
    name,
    hostname: `lima-${name}`,
    status: s,
    dir: dirOf(name),
    vmType: field("vmType"),
    arch: field("arch"),
    cpus: Number(field("cpus")),
    memory: bytes(field("memory")),
    disk: bytes(field("disk")),
    ...(s === "Broken" ? { errors: ["host agent is running but driver is not"] } : {}),
    config: { mounts: mounts.map((location) => ({ location, writable: true })) },
    protected: false,
    limaVersion: "2.2.0",
  };
}

const [cmd, ...args] = ARGS;
switch (cmd) {
  case "list": {
    const names: string[] = [];
    for (const e of Deno.readDirSync(home)) {
      if (e.isDirectory && !e.name.startsWith("_") && exists(`${dirOf(e.name)}/lima.yaml`)) {
        names.push(e.name);
      }
    }
    if (!names.length) {
      log("warning", "No instance found. Run `limactl create` to create an instance.");
    }
    for (const n of names.sort()) console.log(JSON.stringify(instanceJson(n)));
    break;
  }
  case "start": {
    const { flags, rest } = parse(args, ["name", "timeout"]);
    if (flags.tty !== "false") fatal("stand-in: locald must pass --tty=false to start");
    let name = flags.name ?? rest[0];
    if (rest[0]?.endsWith(".yaml")) {
      if (!flags.name) fatal("stand-in: --name is required with a template file");
      name = flags.name;
      if (exists(`${dirOf(name)}/lima.yaml`)) fatal(`instance "${name}" already exists`);
      Deno.mkdirSync(dirOf(name), { recursive: true });
      Deno.copyFileSync(rest[0], `${dirOf(name)}/lima.yaml`);
      log("info", `Creating an instance "${name}"`);
    } else if (!exists(`${dirOf(name)}/lima.yaml`)) {
      fatal(`instance "${name}" does not exist`);
    }
    log("info", '[hostagent] Starting VZ (hint: to watch the boot progress, see "serialv.log")');
    if (exists(`${home}/standin-fail-start`)) {
      Deno.writeTextFileSync(`${dirOf(name)}/ha.stderr.log`, "vz: the virtual machine stopped\n");
      setStatus(name, "Broken");
      fatal(`did not receive an event with the "running" status`);
    }
    log("info", '[hostagent] Waiting for the essential requirement 1 of 2: "ssh"');
    log(
      "info",
      '[hostagent] Waiting for the final requirement 1 of 1: "boot scripts must have finished"',
    );
    setStatus(name, "Running");
    log("info", `READY. Run \`limactl shell ${name}\` to open the shell.`);
    break;
  }
  case "stop": {
    const { rest } = parse(args, []);
    if (!exists(`${dirOf(rest[0])}/lima.yaml`)) fatal(`instance "${rest[0]}" does not exist`);
    log("info", "Sending SIGINT to hostagent process");
    setStatus(rest[0], "Stopped");
    break;
  }
  case "delete": {
    const { flags, rest } = parse(args, []);
    if (status(rest[0]) === "Running" && flags.force !== "true") {
      fatal(`instance "${rest[0]}" is running, run \`limactl stop ${rest[0]}\` first`);
    }
    Deno.removeSync(dirOf(rest[0]), { recursive: true });
    log("info", `Deleted "${rest[0]}" (${dirOf(rest[0])})`);
    break;
  }
  case "shell": {
    const { flags, rest } = parse(args, ["workdir", "shell", "instance", "sync"]);
    let [name, ...command] = rest;
    if (command[0] === "--") command = command.slice(1); // as shell.go does
    if (!exists(`${dirOf(name)}/lima.yaml`)) fatal(`instance "${name}" does not exist`);
    if (status(name) !== "Running") {
      fatal(`instance "${name}" is stopped, run \`limactl start ${name}\` to start the instance`);
    }
    const changeDir = flags.workdir ? `cd ${quote(flags.workdir)} || exit 1` : "cd ~";
    let script = `${changeDir} ; exec "$SHELL" -l`;
    if (command.length) {
      let parsingEnv = true;
      const quoted = command.map((a) => {
        if (parsingEnv && a.split("=").length > 1) {
          const i = a.indexOf("=");
          return `${a.slice(0, i)}=${quote(a.slice(i + 1))}`;
        }
        parsingEnv = false;
        return quote(a);
      });
      script += ` -c ${quote(quoted.join(" "))}`;
    }
    // What the guest's sshd would give the login: the Lima user's basics and some noise.
    const guestHome = `${home}/_standin_guest_home`;
    Deno.mkdirSync(guestHome, { recursive: true });
    // See the header: as root, the guest user is emulated with a user namespace (uid 1000).
    const asGuest = Deno.uid() === 0
      ? ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--", "/bin/bash"]
      : ["/bin/bash"];
    const r = await new Deno.Command(asGuest[0], {
      args: [...asGuest.slice(1), "-c", script],
      cwd: guestHome,
      clearEnv: true,
      env: {
        HOME: guestHome,
        SHELL: "/bin/bash",
        USER: "lima",
        LOGNAME: "lima",
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        SSH_CONNECTION: "127.0.0.1 50000 127.0.0.1 22",
        MOTD_SHOWN: "pam",
      },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    Deno.exit(r.code);
    break;
  }
  default:
    fatal(`stand-in limactl does not implement "${cmd}"`);
}

/** al.essio.dev/pkg/shellescape.Quote, as Lima uses it. */
function quote(s: string): string {
  if (s.length === 0) return "''";
  if (/[^\w@%+=:,./-]/.test(s)) return "'" + s.replaceAll("'", `'"'"'`) + "'";
  return s;
}
