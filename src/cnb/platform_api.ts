/** Platform API negotiation: the newest version both locald and the lifecycle support. */
import { ExitCode, LocaldError } from "../errors.ts";

/** Platform APIs locald implements. */
export const LOCALD_PLATFORM_APIS = ["0.12", "0.13", "0.14", "0.15"];

export function compareApi(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am - bm || an - bn;
}

/**
 * The platform API for a build: `pinned` (--platform-api) if both sides support it; else the
 * newest that locald and its lifecycle support, capped at the newest the builder declares
 * (`builderApis`, its io.buildpacks.lifecycle.apis label): the builder's buildpacks were made
 * and tested against the lifecycle it ships, and a newer platform API changes what they see
 * (CNB_EXEC_ENV, exec-env filtering, ...). A builder older than every API locald implements
 * gets the oldest locald has.
 */
export function negotiatePlatformApi(
  lifecycleApis: string[],
  pinned?: string,
  builderApis?: string[],
): string {
  const shared = LOCALD_PLATFORM_APIS.filter((v) => lifecycleApis.includes(v));
  if (pinned !== undefined) {
    if (!/^\d+\.\d+$/.test(pinned)) {
      throw new LocaldError(`--platform-api "${pinned}" is not a version like 0.13`, {
        exitCode: ExitCode.usage,
        hint: `use one of ${shared.join(", ") || LOCALD_PLATFORM_APIS.join(", ")}`,
      });
    }
    if (!shared.includes(pinned)) {
      throw new LocaldError(
        `platform API ${pinned} is not supported by both locald (${
          LOCALD_PLATFORM_APIS.join(", ")
        }) and this lifecycle (${lifecycleApis.join(", ") || "none listed"})`,
        {
          exitCode: ExitCode.unsupported,
          hint: shared.length
            ? `use --platform-api with one of ${shared.join(", ")}, or leave it out`
            : "use the lifecycle release locald pins (unset LOCALD_LIFECYCLE_DIR)",
        },
      );
    }
    return pinned;
  }
  if (!shared.length) {
    throw new LocaldError(
      `this lifecycle supports platform APIs ${lifecycleApis.join(", ") || "(none listed)"}, ` +
        `locald needs one of ${LOCALD_PLATFORM_APIS.join(", ")}`,
      {
        exitCode: ExitCode.unsupported,
        hint: "use the lifecycle release locald pins (unset LOCALD_LIFECYCLE_DIR)",
      },
    );
  }
  const sorted = shared.sort(compareApi);
  const cap = newestApi(builderApis ?? []);
  if (!cap) return sorted.at(-1)!;
  return sorted.filter((v) => compareApi(v, cap) <= 0).at(-1) ?? sorted[0];
}

/** The newest of a list of API versions ("0.9" < "0.12"); undefined for none. */
export function newestApi(apis: string[]): string | undefined {
  return apis.filter((v) => /^\d+\.\d+$/.test(v)).sort(compareApi).at(-1);
}

/** Execution environments (CNB_EXEC_ENV, RFC 0134) arrived with this platform API. */
export const EXEC_ENV_API = "0.15";

/**
 * The execution environment of a build: --exec-env, else (development builds) project.toml's
 * `[dev.locald] exec-env`, else `development` for development builds and `production` for
 * images. Below platform API 0.15 there is none to give: a choice made explicitly is refused,
 * the default is dropped with a note (buildpacks then assume production, as the spec says).
 */
export function chooseExecEnv(o: {
  flag?: string;
  project?: string;
  image: boolean;
  platformApi: string;
}): { execEnv?: string; note?: string } {
  if (o.flag !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.flag)) {
    throw new LocaldError(`--exec-env "${o.flag}" is not an execution environment's name`, {
      hint: "use production, test or development",
      exitCode: ExitCode.usage,
    });
  }
  const asked = o.flag ?? (o.image ? undefined : o.project);
  const execEnv = asked ?? (o.image ? "production" : "development");
  if (compareApi(o.platformApi, EXEC_ENV_API) >= 0) return { execEnv };
  if (asked) {
    throw new LocaldError(
      `execution environment "${asked}" needs platform API ${EXEC_ENV_API}; this build uses ` +
        o.platformApi,
      {
        hint: `add --platform-api ${EXEC_ENV_API}, or leave the execution environment out`,
        exitCode: ExitCode.unsupported,
      },
    );
  }
  if (o.image) return {};
  return {
    note: `platform API ${o.platformApi} has no execution environments: ` +
      `buildpacks build this as production (--platform-api ${EXEC_ENV_API} makes it development)`,
  };
}
