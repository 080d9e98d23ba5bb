import assert from "node:assert/strict";
import { join } from "node:path";
import { parseProject } from "../config/project.ts";
import type { LocaldError } from "../errors.ts";
import { saveChoice } from "./choice.ts";

Deno.test("--save writes project.toml, keeps what it held, and refuses to rewrite another choice", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "project.toml");
  const read = async () => parseProject(await Deno.readTextFile(file), file);
  try {
    await Deno.mkdir(join(dir, "bp"));
    const choice = { builder: "reg.example/b:1", buildpacks: [join(dir, "bp"), "x/y@1.0"] };
    // No file: a new one, schema 0.2.
    assert.equal(await saveChoice(dir, choice), true);
    let p = await read();
    assert.equal(p.builder, "reg.example/b:1");
    assert.deepEqual(
      p.group,
      [{ uri: "./bp" }, { id: "x/y", version: "1.0" }].map((g) => ({
        id: undefined,
        version: undefined,
        uri: undefined,
        ...g,
      })),
    );
    assert.equal(await saveChoice(dir, choice), false); // already says so
    // A file with an [io.buildpacks] table of other keys: kept, builder and group added.
    const own = '# mine\n[_]\nschema-version = "0.2"\n\n[io.buildpacks]  # build settings\n' +
      'exclude = ["tmp"]\n\n[[io.buildpacks.build.env]]\nname = "A"\nvalue = "1"\n';
    await Deno.writeTextFile(file, own);
    assert.equal(await saveChoice(dir, choice), true);
    const text = await Deno.readTextFile(file);
    assert.ok(text.startsWith(own.split("exclude")[0]), text);
    p = await read();
    assert.deepEqual(p.exclude, ["tmp"]);
    assert.deepEqual(p.env, [{ name: "A", value: "1" }]);
    assert.equal(p.builder, "reg.example/b:1");
    assert.equal(p.group.length, 2);
    // A file that names another builder: left exactly as it was.
    const other = '[io.buildpacks]\nbuilder = "other/builder:2"\n';
    await Deno.writeTextFile(file, other);
    await assert.rejects(() => saveChoice(dir, choice), (e: LocaldError) => {
      assert.equal(e.exitCode, 3);
      assert.match(e.details.join("\n"), /builder = "reg\.example\/b:1"/);
      return true;
    });
    assert.equal(await Deno.readTextFile(file), other);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
