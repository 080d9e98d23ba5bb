/** Platform API negotiation: the newest version both locald and the lifecycle support. */
import { ExitCode, LocaldError } from "../errors.ts";

/** Platform APIs locald implements. */
export const LOCALD_PLATFORM_APIS = ["0.12", "0.13", "0.14", "0.15"];

export function compareApi(a: string, b: string): number {
  const [am, an] = a.split(".").map(Number);
  const [bm, bn] = b.split(".").map(Number);
  return am - bm || an - bn;
}

export function negotiatePlatformApi(lifecycleApis: string[], pinned?: string): string {
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
  return shared.sort(compareApi).at(-1)!;
}
