import assert from "node:assert/strict";
import { join } from "node:path";
import { loadLocalBuilder } from "./local_builder.ts";
import { createOutput } from "../output.ts";
import { localdDirs } from "../config/paths.ts";

const FIXTURES = new URL("../../tests/fixtures/buildpacks/", import.meta.url).pathname;

Deno.test("a local builder links buildpacks, or copies them where links are not followed (WSL)", async () => {
  const home = await Deno.makeTempDir({ prefix: "locald-local-builder-" });
  try {
    const file = join(home, "builder.toml");
    await Deno.writeTextFile(
      file,
      `[[buildpacks]]\nuri = ${JSON.stringify(join(FIXTURES, "one-process"))}\n` +
        `[[buildpacks]]\nuri = ${JSON.stringify(join(FIXTURES, "multi-platform"))}\n` +
        `[[order]]\n[[order.group]]\nid = "locald-fixtures/one-process"\n`,
    );
    const env = { LOCALD_HOME: join(home, "state"), NO_COLOR: "1" };
    const o = {
      env,
      dirs: localdDirs(env),
      out: createOutput(env),
      insecureRegistries: [],
      network: true,
    };
    const linked = await loadLocalBuilder(file, o);
    const one = join(linked.buildpacksDir, "locald-fixtures_one-process", "1.0.0");
    assert.ok((await Deno.lstat(one)).isSymlink);
    assert.match(
      await Deno.readTextFile(linked.orderPath),
      /^\[\[order\]\]\n\[\[order.group\]\]\nid = "locald-fixtures\/one-process"\nversion = "1.0.0"\n/,
    );
    // The same file again: the same layout, not a new one.
    assert.equal((await loadLocalBuilder(file, o)).root, linked.root);

    const copied = await loadLocalBuilder(file, { ...o, copy: true });
    assert.notEqual(copied.root, linked.root);
    const build = join(
      copied.buildpacksDir,
      "locald-fixtures_one-process",
      "1.0.0",
      "bin",
      "build",
    );
    const st = await Deno.lstat(build);
    assert.ok(st.isFile && (st.mode! & 0o111) !== 0, "a copied, executable bin/build");
    // The multi-platform one flattened into real files: this machine's bin/ and the root's.
    const mp = join(copied.buildpacksDir, "locald-fixtures_multi-platform", "1.0.0");
    assert.ok((await Deno.lstat(join(mp, "bin", "detect"))).isFile);
    assert.ok((await Deno.lstat(join(mp, "shared.txt"))).isFile);
    assert.ok((await Deno.lstat(join(mp, "buildpack.toml"))).isFile);
    await assert.rejects(Deno.lstat(join(mp, "linux")));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a builder.toml chosen with -B is remembered absolute and saved relative to the project", async () => {
  const { absoluteBuilder, saveChoice } = await import("./choice.ts");
  const project = await Deno.makeTempDir({ prefix: "locald-choice-" });
  try {
    const abs = absoluteBuilder("ci/builder.toml", project)!;
    assert.equal(abs, join(project, "ci", "builder.toml"));
    assert.equal(absoluteBuilder("heroku/builder:24", project), "heroku/builder:24");
    assert.equal(await saveChoice(project, { builder: abs, buildpacks: [] }), true);
    assert.match(
      await Deno.readTextFile(join(project, "project.toml")),
      /builder = "\.\/ci\/builder\.toml"/,
    );
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
