/** The environment benchmarks run locald in: a fresh HOME and LOCALD_HOME under `root`. */
import { join } from "node:path";

export const CACHE = Deno.env.get("LOCALD_TEST_CACHE") || "/var/cache/locald-test";

export async function benchEnv(root: string): Promise<Record<string, string>> {
  return {
    PATH: Deno.env.get("PATH")!,
    HOME: join(root, "home"),
    LOCALD_HOME: join(root, "locald"),
    LOCALD_LIFECYCLE_DIR: join(CACHE, "lifecycle"),
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    // The module cache of this deno (HOME is a fresh one, so the default cache would be empty).
    DENO_DIR: Deno.env.get("DENO_DIR") ?? JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stderr: "null" })
          .output()).stdout,
      ),
    ).denoDir,
  };
}
