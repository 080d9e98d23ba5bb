/**
 * Start-up depends on what each command loads before it runs. `deno compile` and `deno run`
 * both load the module graph `deno info` reports, evaluating a dynamically imported module
 * only when the import runs; these tests walk that graph's static edges and check that the
 * paths users feel on every keystroke (exec, env, shell, run) and a build with a cached
 * builder reach none of the heavy modules, and that commands stay behind dynamic imports.
 * (A `deno bundle` inlines the dynamic imports; the compiled binary keeps them: compile embeds
 * this graph as modules, it does not bundle.)
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../../", import.meta.url));

interface Info {
  roots: string[];
  redirects?: Record<string, string>;
  modules: {
    specifier: string;
    dependencies?: { specifier: string; isDynamic?: boolean; code?: { specifier: string } }[];
  }[];
}

/** What `entry` loads before any of its dynamic imports run, and its dynamic imports. */
async function graph(entry: string) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: repo,
  }).output();
  assert.ok(o.success, new TextDecoder().decode(o.stderr));
  const info = JSON.parse(new TextDecoder().decode(o.stdout)) as Info;
  const mods = new Map(info.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const dynamic = new Set<string>();
  const todo = [info.roots[0]];
  while (todo.length) {
    let s = todo.pop()!;
    s = info.redirects?.[s] ?? s;
    if (loaded.has(s)) continue;
    loaded.add(s);
    for (const d of mods.get(s)?.dependencies ?? []) {
      if (!d.code) continue;
      if (d.isDynamic) dynamic.add(d.specifier);
      else todo.push(d.code.specifier);
    }
  }
  const rel = (s: string) => s.replace(`file://${repo}`, "");
  return { loaded: [...loaded].map(rel), dynamic: [...dynamic] };
}

/** Heavy at start-up (measured: node:crypto ~15 ms, dax ~2x an empty program, tar, zlib). */
const HEAVY =
  /^(npm:|jsr:|node:(crypto|zlib|path|stream|fs))|\/node_modules\/|src\/oci\/(builder|image|registry|store)\.ts$/;

Deno.test("main.ts loads the argument parser and the registry; each command is a dynamic import", async () => {
  const g = await graph("main.ts");
  assert.deepEqual(g.loaded.filter((m) => HEAVY.test(m)), []);
  assert.ok(g.loaded.every((m) => m === "main.ts" || m.startsWith("src/")), g.loaded.join(" "));
  const reg = await graph("src/cli/registry.ts");
  assert.ok(!reg.loaded.some((m) => m.startsWith("src/cli/commands/")), reg.loaded.join(" "));
  for (const c of ["exec", "env", "shell", "run", "build", "builder"]) {
    assert.ok(reg.dynamic.includes(`./commands/${c}.ts`), `${c} is not loaded lazily`);
  }
});

for (const c of ["exec", "env", "shell", "run"]) {
  Deno.test(`${c}: nothing heavy is loaded before the command runs`, async () => {
    const g = await graph(`src/cli/commands/${c}.ts`);
    assert.deepEqual(g.loaded.filter((m) => HEAVY.test(m)), []);
    // Each module costs a fraction of a millisecond: none that the dev command does not use,
    // such as the backend seam's types or the target facts (builds only), natively either.
    const native = await graph("src/hosts/native_backend.ts");
    const unused = /src\/hosts\/(backend|target|lima|wsl)/;
    assert.deepEqual([...g.loaded, ...native.loaded].filter((m) => unused.test(m)), []);
  });
}

Deno.test("a stack build's dev commands: the run-image modules load nothing heavy", async () => {
  // devenv/stack.ts is what exec, env, shell and run import for a stack build (launch.ts).
  const g = await graph("src/devenv/stack.ts");
  assert.deepEqual(g.loaded.filter((m) => HEAVY.test(m)), []);
  assert.ok(g.loaded.includes("src/hosts/stack.ts"), g.loaded.join(" "));
  const launch = await graph("src/devenv/launch.ts");
  assert.ok(!launch.loaded.includes("src/devenv/stack.ts"), "stack.ts is loaded lazily");
  assert.ok(launch.dynamic.includes("./stack.ts"));
});

Deno.test("a build with a cached builder reads it without the pull machinery", async () => {
  const g = await graph("src/oci/builder_cache.ts");
  assert.deepEqual(g.loaded.filter((m) => HEAVY.test(m)), []);
  const sources = await graph("src/cnb/sources.ts");
  assert.ok(sources.dynamic.includes("../oci/builder.ts"));
  assert.ok(!sources.loaded.includes("src/oci/builder.ts"));
  // The build command itself: TOML and node:path, but no registry client, tar or node:crypto.
  const build = await graph("src/cli/commands/build.ts");
  const pull =
    /^(npm:\/?tar|node:(crypto|zlib|stream))|src\/oci\/(builder|image|registry|store)\.ts$/;
  assert.deepEqual(build.loaded.filter((m) => pull.test(m)), []);
});

Deno.test("builder pull loads tar, decompression and node:crypto only to download or extract", async () => {
  // A warm pull (the builder is extracted already and unchanged) makes one HEAD request:
  // warm_pull.ts, without builder.ts (the blob store, TOML, the tree walk), node:path or
  // node:crypto; builder.ts loads when something must be fetched, apply.ts (the tar reader,
  // zlib) only when it extracts.
  const g = await graph("src/cli/commands/builder.ts");
  const extract =
    /^(npm:\/?tar|node:(crypto|zlib|stream|fs)$)|src\/(oci\/apply|archive\/(extract|tar|inflate))\.ts$/;
  assert.deepEqual(g.loaded.filter((m) => extract.test(m)), []);
  assert.deepEqual(g.loaded.filter((m) => HEAVY.test(m)), []);
  for (const m of ["../../oci/builder.ts", "../../oci/warm_pull.ts"]) {
    assert.ok(g.dynamic.includes(m), `${m} is not loaded lazily`);
  }
  const warm = await graph("src/oci/warm_pull.ts");
  assert.deepEqual(
    warm.loaded.filter((m) => HEAVY.test(m) && m !== "src/oci/registry.ts"),
    [],
    "a warm pull needs the registry client only",
  );
  const image = await graph("src/oci/image.ts");
  assert.ok(image.dynamic.includes("./apply.ts"), "apply.ts is not loaded lazily");
  // Extraction reads tar itself (no tar-stream, no node streams); zlib loads for compressed layers.
  const apply = await graph("src/oci/apply.ts");
  assert.deepEqual(apply.loaded.filter((m) => /^(npm:|node:(zlib|stream|fs)$)/.test(m)), []);
  assert.ok(apply.dynamic.includes("../archive/inflate.ts"), "inflate.ts is not loaded lazily");
  const store = await graph("src/oci/store.ts");
  assert.ok(store.dynamic.includes("node:crypto"), "node:crypto is not loaded lazily");
});

Deno.test("deno run reads a command's modules only when its import runs", async () => {
  // Without deno.json's lazy-dynamic-imports, `deno run` reads, hashes and analyses every
  // module behind a string-literal import() before main.ts starts: all the commands, dax and
  // the npm graph on every `locald exec`. Deno's debug log names each module it reads.
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--log-level=debug", `${repo}main.ts`, "version"],
    cwd: repo,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(o.success);
  const read = [
    ...new TextDecoder().decode(o.stderr).matchAll(/fetch_no_follow - specifier: (\S+)/g),
  ]
    .map((m) => m[1].replace(`file://${repo}`, ""));
  assert.ok(read.includes("src/cli/commands/version.ts"), read.join(" "));
  assert.deepEqual(read.filter((m) => /commands\/(build|exec)\.ts$|^npm:|src\/cnb\//.test(m)), []);
});
