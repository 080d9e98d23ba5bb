/**
 * The project remembers, and is found: a bare `locald build` builds as the last build was told
 * to (and `--save` writes that into project.toml), a build from a subdirectory builds the
 * enclosing project, a symlinked directory is one project, and `-b ID@VERSION` without -B is
 * looked up in the builder that applies. With the real lifecycle and the fixture buildpack.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald } from "./support/locald.ts";
import { builtFixture, fixture, FIXTURE_BP } from "./support/fixture.ts";

// deno-lint-ignore no-explicit-any
const ids = (json: any) => json.buildpacks.map((b: { id: string }) => b.id);

Deno.test("a bare build builds as the last one was told to, says so, and --save keeps it", async () => {
  const f = await fixture();
  try {
    const first = await f.build();
    assert.equal(first.code, 0, first.stderr);
    // Sources change; the warning says to run `locald build`, and that is what rebuilds it.
    await Deno.writeTextFile(join(f.app, "more.txt"), "x");
    const stale = await runLocald(["exec", "-C", f.app, "--", "true"], { env: f.env });
    assert.match(stale.stderr, /changed since its environment was built .*run `locald build`/);
    const bare = await runLocald(["build", "-C", f.app, "--json"], { env: f.env });
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(
      bare.stderr,
      new RegExp(
        `locald: building as last time: -b ${FIXTURE_BP} \\(-B or -b choose again; ` +
          "--save writes this into project.toml\\)",
      ),
    );
    assert.deepEqual(ids(bare.json), ["locald-fixtures/everything"]);
    assert.doesNotMatch(bare.stderr, /heroku\/builder/);

    // --save: project.toml gets the group (the buildpack lives outside the project: absolute).
    const saved = await runLocald(["build", "-C", f.app, "--save"], { env: f.env });
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stderr, /wrote -b .* into .*\/project\.toml/);
    const toml = await Deno.readTextFile(join(f.app, "project.toml"));
    assert.match(toml, /^\[_\]\nschema-version = "0.2"\n/);
    assert.match(toml, new RegExp(`\\[\\[io\\.buildpacks\\.group\\]\\]\\nuri = "${FIXTURE_BP}"`));
    // Saving again changes nothing; the next build is the same build.
    const again = await runLocald(["build", "-C", f.app, "--save", "--json"], { env: f.env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await Deno.readTextFile(join(f.app, "project.toml")), toml);
    assert.match(again.stderr, /is up to date/);

    // project.toml changed since: it decides, and the message says so.
    await Deno.writeTextFile(join(f.app, "project.toml"), `${toml}# edited\n`);
    const edited = await runLocald(["build", "-C", f.app, "--json"], { env: f.env });
    assert.equal(edited.code, 0, edited.stderr);
    assert.doesNotMatch(edited.stderr, /building as last time/);
    assert.deepEqual(ids(edited.json), ["locald-fixtures/everything"]);

    // A project.toml that already names other buildpacks is left alone.
    await Deno.writeTextFile(
      join(f.app, "project.toml"),
      '[[io.buildpacks.group]]\nid = "other/bp"\n',
    );
    const refused = await runLocald(["build", "-C", f.app, "-b", FIXTURE_BP, "--save"], {
      env: f.env,
    });
    assert.equal(refused.code, 3);
    assert.match(
      refused.stderr,
      /project\.toml already names how to build; locald does not rewrite it\n .*put these lines in it:\n {2}\[\[io\.buildpacks\.group\]\]\n {2}uri = /,
    );
    assert.match(
      await Deno.readTextFile(join(f.app, "project.toml")),
      /^\[\[io\.buildpacks\.group\]\]\nid = "other\/bp"\n$/,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("build from a subdirectory builds the enclosing project, as exec finds it", async () => {
  const f = await builtFixture();
  try {
    const sub = join(f.app, "src", "deep");
    await Deno.mkdir(sub, { recursive: true });
    const b = await runLocald(["build", "-b", FIXTURE_BP, "--json"], { env: f.env, cwd: sub });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /locald: building .*\/app, the project .*\/app\/src\/deep is part of/);
    // deno-lint-ignore no-explicit-any
    assert.equal((b.json as any).projectDir, await Deno.realPath(f.app));
    // One project's state, not a second one named after the subdirectory.
    const projects = await Array.fromAsync(Deno.readDir(join(f.localdHome, "projects")));
    assert.deepEqual(projects.map((p) => p.name.replace(/-[0-9a-f]+$/, "")), ["app"]);
    // A bare build from there reuses the project's buildpacks (nothing changed: up to date).
    const bare = await runLocald(["build"], { env: f.env, cwd: sub });
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stderr, /is up to date/);
    // A repository inside it (a clone, .git) is a project of its own.
    const clone = join(f.app, "vendor", "clone");
    await Deno.mkdir(join(clone, ".git"), { recursive: true });
    await Deno.writeTextFile(join(clone, "fixture.txt"), "x\n");
    const own = await runLocald(["build", "-b", FIXTURE_BP, "--json"], { env: f.env, cwd: clone });
    assert.equal(own.code, 0, own.stderr);
    // deno-lint-ignore no-explicit-any
    assert.equal((own.json as any).projectDir, await Deno.realPath(clone));
  } finally {
    await f.cleanup();
  }
});

Deno.test("a symlinked project directory is one project whichever path reaches it", async () => {
  const f = await fixture();
  try {
    await Deno.mkdir(join(f.app, "src"));
    assert.equal((await f.build()).code, 0);
    // A symlink to the project: the same environment, the same (up to date) build.
    const link = join(f.root, "link to app");
    await Deno.symlink(f.app, link);
    const e = await runLocald(["exec", "-C", link, "--", "fixture-tool", "via-link"], {
      env: f.env,
    });
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /args: \[via-link\]/);
    const viaLink = await runLocald(["build", "-C", link], { env: f.env });
    assert.equal(viaLink.code, 0, viaLink.stderr);
    assert.match(viaLink.stderr, /is up to date/);
    const inLink = await runLocald(["exec", "--", "fixture-tool"], {
      env: f.env,
      cwd: join(link, "src"),
    });
    assert.equal(inLink.code, 0, inLink.stderr);
    const after = await Array.fromAsync(Deno.readDir(join(f.localdHome, "projects")));
    assert.equal(after.length, 1, after.map((p) => p.name).join(" "));
  } finally {
    await f.cleanup();
  }
});

Deno.test("-b ID@VERSION without -B is looked up in the default builder, which is named", async () => {
  const f = await fixture();
  try {
    // --dry-run downloads nothing: the default builder is not there, and the error says so.
    const r = await runLocald(
      ["build", "-C", f.app, "-b", "heroku/nodejs@3.0.0", "--dry-run"],
      { env: f.env },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /locald: looking up heroku\/nodejs@3\.0\.0 in the builder heroku\/builder:24 \(the default; -B REF picks another\)/,
    );
    assert.match(r.stderr, /builder heroku\/builder:24 has not been pulled yet/);
    assert.doesNotMatch(r.stderr, /invalid image reference|cannot pull the buildpack image/);
  } finally {
    await f.cleanup();
  }
});
