/** Registry entries whose lazily loaded module is not in the tree (yet): shared by tests. */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "../../src/cli/registry.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));

export function missingCommandModules(): { name: string; path: string }[] {
  const missing: { name: string; path: string }[] = [];
  for (const c of COMMANDS) {
    const spec = c.load.toString().match(/import\(["']([^"']+)["']\)/)?.[1];
    if (!spec) throw new Error(`cannot read the module path of ${c.name}'s loader`);
    const path = fileURLToPath(
      new URL(spec, new URL("../../src/cli/registry.ts", import.meta.url)),
    );
    try {
      Deno.statSync(path);
    } catch {
      missing.push({ name: c.name, path: relative(repo, path) });
    }
  }
  return missing;
}
