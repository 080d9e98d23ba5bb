/**
 * Which userland a build's phases run on: the host's own system (`host`: its /usr, /lib, its
 * tools) or the builder image's root filesystem (`stack`: the system the builder's buildpacks
 * were made for, as pack runs them in the builder's container). Pure: the facts (is there a
 * builder, does bwrap work where steps run, is the builder's root a system to run in) come in;
 * the mode and a few words of why come out, said once by the build and by `locald doctor`.
 *
 * Order: --stack/--host, then project.toml `[dev.locald] userland`, then the `userland`
 * setting, then auto. Auto is `stack` whenever a builder image is used and bwrap works where
 * the steps run (and the builder's root holds a system: a shell), otherwise `host`.
 * Builds without a builder (only -b directories) always run on the host.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import type { UserlandSetting } from "../config/defaults.ts";

export type UserlandMode = "host" | "stack";

export interface UserlandChoice {
  mode: UserlandMode;
  /** Why, in a few words (build output, --dry-run, doctor). */
  why: string;
}

export interface UserlandRequest {
  /** --stack or --host. */
  flag?: UserlandMode;
  /** project.toml `[dev.locald] userland`, and the file it came from. */
  project?: UserlandSetting;
  projectFile?: string;
  /** The `userland` setting (default auto), and the settings file. */
  settings: UserlandSetting;
  settingsFile?: string;
  /**
   * The builder image in use (its reference); absent: no builder (only -b directories).
   * `local`: a builder.toml laid out locally, which has no image to build in.
   */
  builder?: { ref: string; local?: boolean };
  /** An image build (--export/--publish). */
  image?: boolean;
  /** Whether bwrap works where the steps run; `reason`/`fix` when it does not. */
  bwrap: { ok: boolean; reason?: string; fix?: string };
  /**
   * The builder's root filesystem, once looked at: `ok` false (with why) when it holds no
   * system to run in (no /bin/sh). Absent: not looked at yet (the choice is then provisional
   * for a stack mode: the caller extracts the root, then asks again).
   */
  rootfs?: { ok: boolean; why?: string };
  /**
   * Whether the directory that keeps root filesystems can hold one: a Linux root has names
   * that differ only in case (terminfo's E/ and e/), which macOS's default APFS folds into one.
   * Absent: not looked at.
   */
  store?: { ok: boolean; why?: string };
}

/** The hint for a --stack that cannot be had, per cause. */
function refuse(message: string, hint: string, exitCode: number = ExitCode.input): never {
  throw new LocaldError(message, { hint, exitCode });
}

/**
 * The choice, or an error when the stack was asked for explicitly and cannot be had. A setting
 * of `stack` (project.toml or config.toml) is explicit too, except for builds without a
 * builder, which stay on the host whatever the settings say (a setting is about every build).
 */
export function chooseUserland(r: UserlandRequest): UserlandChoice {
  const asked: { mode: UserlandSetting; by: string } = r.flag
    ? { mode: r.flag, by: `--${r.flag}` }
    : r.project && r.project !== "auto"
    ? { mode: r.project, by: `userland = "${r.project}" in ${r.projectFile ?? "project.toml"}` }
    : r.settings !== "auto"
    ? { mode: r.settings, by: `userland = "${r.settings}" in ${r.settingsFile ?? "the settings"}` }
    : { mode: "auto", by: "auto" };
  if (asked.mode === "host") return { mode: "host", why: asked.by };
  const explicit = asked.mode === "stack";
  if (!r.builder) {
    if (r.flag === "stack") {
      refuse(
        "--stack needs a builder: a build with only -b directories has no stack to build in",
        "add -B BUILDER (its image is the userland), or drop --stack",
        ExitCode.usage,
      );
    }
    return { mode: "host", why: "no builder (only -b directories): the host's userland" };
  }
  if (r.builder.local) {
    if (explicit) {
      refuse(
        `${asked.by}: the local builder ${r.builder.ref} has no image to build in`,
        "build with a builder image (-B REF), or use --host",
      );
    }
    return { mode: "host", why: `auto: the local builder ${r.builder.ref} has no image` };
  }
  if (!r.bwrap.ok) {
    if (explicit) {
      refuse(
        `${asked.by}: cannot build in the builder's image: ${r.bwrap.reason ?? "bwrap fails"}`,
        r.bwrap.fix ?? "install bubblewrap, or build with --host",
        ExitCode.unsupported,
      );
    }
    return {
      mode: "host",
      why: `auto: bwrap does not work where the phases run (${
        r.bwrap.reason ?? "no sandbox"
      }); the host's userland`,
    };
  }
  if (r.store && !r.store.ok) {
    const why = r.store.why ?? "the state directory folds names that differ in case";
    if (explicit) {
      refuse(
        `${asked.by}: cannot keep the builder's root filesystem: ${why}`,
        "set LOCALD_HOME to a case-sensitive volume (macOS: an APFS (Case-sensitive) volume " +
          "made in Disk Utility), or build with --host",
        ExitCode.unsupported,
      );
    }
    return { mode: "host", why: `auto: ${why}; the host's userland` };
  }
  if (r.rootfs && !r.rootfs.ok) {
    if (explicit) {
      refuse(
        `${asked.by}: the builder ${r.builder.ref} is not a system to build in ` +
          `(${r.rootfs.why ?? "no /bin/sh"})`,
        "use a builder made from a build image (pack builder create), or build with --host",
      );
    }
    return {
      mode: "host",
      why: `auto: not in the image of the builder ${r.builder.ref} (${
        r.rootfs.why ?? "no /bin/sh"
      }); the host's userland`,
    };
  }
  return {
    mode: "stack",
    why: explicit ? asked.by : `auto: builder ${r.builder.ref}, bwrap works here`,
  };
}
