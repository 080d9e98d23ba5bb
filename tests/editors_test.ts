/**
 * Editors and shells: real direnv in a real bash, and the prompt marker of an interactive
 * `locald shell` in real bash, zsh and fish (in a pseudo-terminal made by util-linux script).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN } from "./support/locald.ts";
import { builtFixture } from "./support/fixture.ts";
import { runProcess } from "./support/proc.ts";

async function builtFixtureOnPath() {
  const t = await builtFixture();
  // `locald` on PATH, as a user has it.
  const bin = join(t.root, "bin");
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    join(bin, "locald"),
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --quiet ${MAIN} "$@"\n`,
    { mode: 0o755 },
  );
  const env = { ...t.env, PATH: `${bin}:${t.env.PATH}` };
  return { ...t, env };
}

const bash = (script: string, env: Record<string, string>) =>
  runProcess(["bash", "-c", script], { env });

Deno.test("direnv: entering the project puts the layer's tool on PATH, leaving removes it", async () => {
  const f = await builtFixtureOnPath();
  try {
    await Deno.writeTextFile(join(f.app, ".envrc"), 'eval "$(locald env --format direnv)"\n');
    const r = await bash(
      `set -e
       cd ${f.app}
       direnv allow .
       eval "$(direnv export bash 2>/dev/null)"
       echo "inside: $(command -v fixture-tool) $FIXTURE_PROFILE"
       cd ..
       eval "$(direnv export bash 2>/dev/null)"
       echo "outside: $(command -v fixture-tool || echo none) \${FIXTURE_PROFILE:-unset}"`,
      f.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /inside: \/.*\/layers\/.*\/tools\/bin\/fixture-tool from-profile-d/);
    assert.match(r.stdout, /outside: none unset/);

    // Sources newer than the build: a one-line warning, no rebuild behind the user's back.
    await Deno.writeTextFile(join(f.app, "new.txt"), "x");
    const stale = await bash(
      `cd ${f.app} && direnv allow . && eval "$(direnv export bash)"; command -v fixture-tool`,
      f.env,
    );
    assert.match(stale.stderr, /changed since its environment was built/);
    assert.match(stale.stdout, /fixture-tool/);
    assert.doesNotMatch(stale.stderr, /===> /);
  } finally {
    await f.cleanup();
  }
});

Deno.test("interactive locald shell shows a prompt marker in bash, zsh and fish", async () => {
  const f = await builtFixtureOnPath();
  try {
    for (const sh of ["/bin/bash", "/usr/bin/zsh", "/usr/bin/fish"]) {
      const child = new Deno.Command("script", {
        args: ["-qfec", `locald shell -C ${f.app}`, "/dev/null"],
        env: { ...f.env, SHELL: sh, TERM: "dumb" },
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("fixture-tool in-shell\nexit\n"));
      await w.close();
      const o = await child.output();
      const out = new TextDecoder().decode(o.stdout).replace(
        // deno-lint-ignore no-control-regex
        /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g,
        "",
      );
      assert.match(out, /\(locald:app\)/, `${sh}: ${out}`);
      assert.match(out, /args: \[in-shell\]/, `${sh}: ${out}`);
    }
  } finally {
    await f.cleanup();
  }
});
