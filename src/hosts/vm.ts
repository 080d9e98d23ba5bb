/**
 * The impure glue around the VM hosts, shared by `locald vm` and by openBackend(): find or
 * install limactl, write the instance YAML, bring the VM up with progress; find the WSL distro.
 */
import { join } from "node:path";
import type { Output } from "../output.ts";
import { ExitCode, LocaldError } from "../errors.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { EnvAndDirs } from "../config/paths.ts";
import { ensureLima, findLima, type LimaInstall } from "../tools/lima.ts";
import {
  type LimaArch,
  type LimaVmConfig,
  renderLimaYaml,
  VM_DEFAULTS,
} from "../../templates/lima.ts";
import {
  brokenError,
  checkVzSupported,
  GUEST_STATE_DIR,
  LIMA_INSTANCE,
  type Limactl,
  limactlEnv,
  limaHome,
  type LimaInstance,
  limaInstance,
  startLima,
} from "./lima.ts";
import { chooseDistro, listDistros, type WslDistro } from "./wsl.ts";

/** VM settings: LOCALD_VM_CPUS, LOCALD_VM_MEMORY, LOCALD_VM_DISK, LOCALD_VM_MOUNTS (":"-separated). */
export function vmConfig(
  env: Record<string, string>,
  overrides: Partial<Pick<LimaVmConfig, "cpus" | "memory" | "disk">> = {},
  arch: string = Deno.build.arch,
): LimaVmConfig {
  const cpusText = env.LOCALD_VM_CPUS;
  const cpus = overrides.cpus ?? (cpusText ? Number(cpusText) : VM_DEFAULTS.cpus);
  const mounts = env.LOCALD_VM_MOUNTS
    ? env.LOCALD_VM_MOUNTS.split(":").filter(Boolean)
    : env.HOME
    ? [env.HOME]
    : [];
  const c: LimaVmConfig = {
    arch: (arch === "aarch64" ? "aarch64" : "x86_64") as LimaArch,
    cpus,
    memory: overrides.memory ?? env.LOCALD_VM_MEMORY ?? VM_DEFAULTS.memory,
    disk: overrides.disk ?? env.LOCALD_VM_DISK ?? VM_DEFAULTS.disk,
    mounts,
    stateDir: GUEST_STATE_DIR,
  };
  return c;
}

export interface LimaContext {
  limactl: Limactl;
  install: LimaInstall;
}

function refuseRoot() {
  if (Deno.build.os === "darwin" && Deno.uid() === 0) {
    throw new LocaldError("Lima does not run as root", {
      hint: "run locald as your own user (without sudo)",
      exitCode: ExitCode.unsupported,
    });
  }
}

/** limactl and the private LIMA_HOME; installs Lima when `install` is set and it is missing. */
export async function limaContext(
  ed: EnvAndDirs,
  out: Output | undefined,
  install: boolean,
): Promise<LimaContext | undefined> {
  refuseRoot();
  const found = install ? await ensureLima(ed, out) : await findLima(ed);
  if (!found) return undefined;
  const home = limaHome(ed);
  return { install: found, limactl: { path: found.limactl, home, env: limactlEnv(ed.env, home) } };
}

export function instanceYamlPath(home: string): string {
  // Outside the instance directory, which limactl creates itself.
  return join(home, "_locald", `${LIMA_INSTANCE}.yaml`);
}

/**
 * Bring the VM to Running: create it from the template the first time, start it when stopped,
 * and fail clearly when it is broken. Lima's progress goes to `out`.
 */
export async function ensureLimaRunning(
  lc: LimaContext,
  out: Output,
  config: LimaVmConfig,
): Promise<{ instance: LimaInstance; created: boolean; started: boolean }> {
  if (Deno.build.os === "darwin") checkVzSupported(Deno.osRelease());
  let inst = await limaInstance(lc.limactl);
  if (inst?.status === "Running") return { instance: inst, created: false, started: false };
  if (inst?.status === "Broken") throw brokenError(lc.limactl.home, inst);
  const progress = (msg: string, level: string) => {
    if (level === "warning" || level === "warn") out.warn(msg);
    else if (level !== "debug" && level !== "trace") out.info(`  ${msg}`);
  };
  const done = out.phase(inst ? "starting the locald VM" : "creating the locald VM");
  let ok = false;
  try {
    if (!inst) {
      const problems = (await import("../../templates/lima.ts")).limaConfigProblems(config);
      if (problems.length) {
        throw new LocaldError(`invalid VM settings: ${problems.join("; ")}`, {
          hint: "check LOCALD_VM_CPUS, LOCALD_VM_MEMORY, LOCALD_VM_DISK and LOCALD_VM_MOUNTS",
          exitCode: ExitCode.input,
        });
      }
      const file = instanceYamlPath(lc.limactl.home);
      await writeFileAtomic(file, renderLimaYaml(config));
      await startLima(lc.limactl, { yamlFile: file, progress });
    } else {
      await startLima(lc.limactl, { progress });
    }
    ok = true;
  } finally {
    done(ok);
  }
  const created = !inst;
  inst = await limaInstance(lc.limactl);
  if (!inst || inst.status !== "Running") {
    if (inst?.status === "Broken") throw brokenError(lc.limactl.home, inst);
    throw new LocaldError(`the locald VM is ${inst?.status ?? "missing"} after starting it`, {
      hint: `read ${join(lc.limactl.home, LIMA_INSTANCE, "ha.stderr.log")}`,
      exitCode: ExitCode.failure,
    });
  }
  return { instance: inst, created, started: true };
}

export interface WslContext {
  wsl: string;
  env: Record<string, string>;
  distro: WslDistro;
  reason: string;
}

export async function wslContext(env: Record<string, string>): Promise<WslContext> {
  const wsl = env.LOCALD_WSL_EXE || "wsl.exe";
  const { distro, reason } = chooseDistro(await listDistros(wsl, env), env.LOCALD_WSL_DISTRO);
  return { wsl, env, distro, reason };
}
