/**
 * `locald vm start|stop|status|shell|rm`: the VM (macOS, Lima) or distribution (Windows, WSL)
 * that builds run in. On Linux there is none; status says so.
 */
import { join } from "node:path";
import type { CommandContext } from "../context.ts";
import { flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { chooseBackend } from "../../hosts/select.ts";
import { removeIfExists } from "../../util/fs.ts";

const SUBCOMMANDS = ["start", "stop", "status", "shell", "rm"];

export async function run(ctx: CommandContext): Promise<number> {
  const [sub, ...extra] = ctx.args.positionals;
  if (!sub) throw new UsageError(`needs a subcommand: ${SUBCOMMANDS.join(", ")}`, "vm");
  if (!SUBCOMMANDS.includes(sub)) {
    throw new UsageError(`unknown subcommand "${sub}" (${SUBCOMMANDS.join(", ")})`, "vm");
  }
  if (extra.length) throw new UsageError(`vm ${sub} takes no arguments`, "vm");
  const backend = chooseBackend(ctx.env);
  if (backend.name === "lima") return await lima(sub, ctx);
  if (backend.name === "wsl") return await wsl(sub, ctx);
  if (sub === "status") {
    if (ctx.args.flags.json) ctx.out.json({ backend: "native", vm: null });
    else {
      ctx.out.info(
        "no VM: on Linux locald runs builds directly (LOCALD_BACKEND=lima or wsl selects one)",
      );
    }
    return 0;
  }
  throw new LocaldError(`there is no VM to ${sub} on the native backend`, {
    hint: "locald uses a VM on macOS (Lima) and WSL 2 on Windows; on Linux builds run directly",
    exitCode: ExitCode.unsupported,
  });
}

function sizeFlag(ctx: CommandContext, name: string): string | undefined {
  return flagString(ctx.args, name);
}

async function lima(sub: string, ctx: CommandContext): Promise<number> {
  const { out, env } = ctx;
  const vm = await import("../../hosts/vm.ts");
  const l = await import("../../hosts/lima.ts");
  if (sub === "start" || sub === "shell") {
    const cpusText = sizeFlag(ctx, "cpus");
    const cpus = cpusText === undefined ? undefined : Number(cpusText);
    if (cpus !== undefined && !(Number.isInteger(cpus) && cpus > 0)) {
      throw new UsageError(`--cpus takes a whole number (got "${cpusText}")`, "vm");
    }
    const config = vm.vmConfig(env, {
      cpus,
      memory: sizeFlag(ctx, "memory"),
      disk: sizeFlag(ctx, "disk"),
    });
    const lc = (await vm.limaContext(env, out, true))!;
    const r = await vm.ensureLimaRunning(lc, out, config);
    if (sub === "start") {
      // What builds need to know about the VM (ids, arch, os-release), asked once now.
      if (r.started) {
        await (await import("../../hosts/lima_backend.ts")).recordGuestFacts(lc.limactl);
      }
      if (r.created) out.info(`the locald VM is running (created in ${lc.limactl.home})`);
      else if (r.started) out.info("the locald VM is running");
      else out.info("the locald VM is already running");
      if (!r.created && (cpus || ctx.args.flags.memory || ctx.args.flags.disk)) {
        out.warn(
          "--cpus, --memory and --disk apply when the VM is created; " +
            "`locald vm rm` first to change them",
        );
      }
      return 0;
    }
    const mounts = r.instance.mounts ?? config.mounts;
    const args = ["shell", "--tty=false"];
    if (l.isMounted(ctx.dir, mounts)) args.push("--workdir", ctx.dir);
    else out.warn(`the VM cannot see ${ctx.dir}; the shell starts in the VM user's home`);
    args.push(l.LIMA_INSTANCE);
    const child = new Deno.Command(lc.limactl.path, {
      args,
      env: lc.limactl.env,
      clearEnv: true,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  }
  const lc = await vm.limaContext(env, out, false);
  const inst = lc ? await l.limaInstance(lc.limactl) : undefined;
  if (sub === "status") {
    const home = lc?.limactl.home ?? l.limaHome(env);
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
    if (ctx.args.flags.json) {
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

async function wsl(sub: string, ctx: CommandContext): Promise<number> {
  const { out, env } = ctx;
  const w = await import("../../hosts/wsl.ts");
  const { wslContext } = await import("../../hosts/vm.ts");
  const c = await wslContext(env);
  const d = c.distro.name;
  const inherit = (args: string[]) =>
    new Deno.Command(c.wsl, { args, env, stdin: "inherit", stdout: "inherit", stderr: "inherit" })
      .spawn().status;
  if (sub === "status") {
    if (ctx.args.flags.json) {
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
    const dir = await w.wslpath(c.wsl, d, ctx.dir, env);
    return (await inherit(["-d", d, "--cd", dir])).code;
  }
  // rm: the distribution is the user's; remove only what locald put in it.
  const guest = await w.probeGuest(c.wsl, d, env);
  const state = w.wslStateDir(guest.home);
  const r = await new Deno.Command(c.wsl, {
    args: w.wslProbeArgs(d, ["rm", "-rf", "--", state]),
    env,
    stdin: "null",
  }).output();
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
