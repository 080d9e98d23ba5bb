/**
 * Editors and shells: real direnv in a real bash, and the prompt marker of an interactive
 * `locald shell` in real bash, zsh and fish (in a pseudo-terminal made by util-linux script).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN } from "./support/locald.ts";
import { builtFixture, FIXTURE_BP } from "./support/fixture.ts";
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

/** Run `locald shell` in a pseudo-terminal (util-linux script), typing `input`; the screen. */
async function ptyShell(
  shell: string,
  dir: string,
  env: Record<string, string>,
  input: string,
): Promise<string> {
  const child = new Deno.Command("script", {
    args: ["-qfec", `locald shell -C ${dir}`, "/dev/null"],
    env: { ...env, SHELL: shell, TERM: "dumb" },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const o = await child.output();
  return new TextDecoder().decode(o.stdout).replace(
    // deno-lint-ignore no-control-regex
    /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g,
    "",
  );
}

/** The user's own startup files for bash, zsh and fish, each running `set`. */
async function userStartupFiles(home: string, lines: { sh: string; fish: string }) {
  await Deno.writeTextFile(join(home, ".bashrc"), lines.sh);
  await Deno.writeTextFile(join(home, ".zshrc"), lines.sh);
  await Deno.mkdir(join(home, ".config", "fish"), { recursive: true });
  await Deno.writeTextFile(join(home, ".config", "fish", "config.fish"), lines.fish);
}

const SHELLS = ["/bin/bash", "/usr/bin/zsh", "/usr/bin/fish"];

Deno.test("interactive shell: the environment applies after the user's startup files, which stay", async () => {
  const f = await builtFixtureOnPath();
  try {
    // A PATH line in the user's own startup files (as nvm and pyenv write them), putting the
    // user's copy of the project's tool first; an alias of the user's.
    const userBin = join(f.home, "userbin");
    await Deno.mkdir(userBin);
    await Deno.writeTextFile(join(userBin, "fixture-tool"), "#!/bin/sh\necho user copy\n", {
      mode: 0o755,
    });
    // The app's .profile prints, as real ones do: shown, and the environment still applies.
    await Deno.writeTextFile(join(f.app, ".profile"), "echo 'hello from .profile'\n");
    await userStartupFiles(f.home, {
      sh: `export PATH="$HOME/userbin:$PATH"\nalias greet='echo user-alias'\n`,
      fish: `set -gx PATH $HOME/userbin $PATH\nalias greet 'echo user-alias'\n`,
    });
    for (const sh of SHELLS) {
      const out = await ptyShell(
        sh,
        f.app,
        f.env,
        'fixture-tool in-shell\ngreet\necho "P=$FIXTURE_PROFILE"\ncommand -v fixture-tool\n' +
          "exit\n",
      );
      assert.match(
        out,
        /fixture-tool ran from .*\/layers\/.*\nargs: \[in-shell\]/,
        `${sh}: ${out}`,
      );
      assert.doesNotMatch(out, /user copy/, `${sh}: ${out}`);
      assert.match(out, /\nuser-alias\n/, `${sh}: ${out}`);
      assert.match(out, /\nP=from-profile-d\n/, `${sh}: ${out}`);
      assert.match(out, /hello from \.profile\n/, `${sh}: ${out}`);
      // The user's PATH entries are kept, behind the project's.
      const path = await ptyShell(sh, f.app, f.env, 'printf "%s%s\\n" X "=$PATH"\nexit\n');
      const entries = path.match(/X=(\S+)/)![1].split(/[: ]/);
      const layer = entries.findIndex((p) => /\/layers\/.*\/tools\/bin$/.test(p));
      assert.ok(layer >= 0 && layer < entries.indexOf(userBin), `${sh}: ${entries}`);
      // The same with -c (fish reads config.fish for it too).
      const c = await bash(
        `cd ${f.app} && SHELL=${sh} locald shell -c 'fixture-tool c-mode'`,
        f.env,
      );
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /\/layers\/.*\nargs: \[c-mode\]/, `${sh}: ${c.stdout}`);
    }
  } finally {
    await f.cleanup();
  }
});

Deno.test("interactive shell: the prompt marker stays with prompts set by PROMPT_COMMAND or precmd", async () => {
  const f = await builtFixtureOnPath();
  try {
    // A prompt program's way (starship): the prompt is rewritten before every command.
    await Deno.writeTextFile(join(f.home, ".bashrc"), `PROMPT_COMMAND='PS1="starship> "'\n`);
    await Deno.writeTextFile(join(f.home, ".zshrc"), `precmd() { PROMPT="starship> " }\n`);
    await Deno.mkdir(join(f.home, ".config", "fish"), { recursive: true });
    await Deno.writeTextFile(
      join(f.home, ".config", "fish", "config.fish"),
      "function fish_prompt; echo -n 'starship> '; end\n",
    );
    for (const sh of SHELLS) {
      const out = await ptyShell(sh, f.app, f.env, "echo one\necho two\nexit\n");
      assert.match(out, /\(locald:app\) starship> echo two/, `${sh}: ${out}`);
    }
  } finally {
    await f.cleanup();
  }
});

Deno.test('eval "$(locald env)" twice equals once, and keeps what was added in between', async () => {
  const f = await builtFixtureOnPath();
  try {
    const r = await bash(
      `set -e
       cd ${f.app}
       export FIXTURE_LIST=/mine FIXTURE_APPEND=/mine
       eval "$(locald env)"
       once="$PATH|$FIXTURE_LIST|$FIXTURE_APPEND|$LD_LIBRARY_PATH"
       eval "$(locald env)"
       twice="$PATH|$FIXTURE_LIST|$FIXTURE_APPEND|$LD_LIBRARY_PATH"
       [ "$once" = "$twice" ] || { echo "once:  $once"; echo "twice: $twice"; exit 1; }
       echo "LIST=$FIXTURE_LIST APPEND=$FIXTURE_APPEND"
       export PATH="/added:$PATH"
       eval "$(locald env)"
       echo "PATH=$PATH"
       eval "$(locald env --format sh)" && locald env | grep -c fixture-tool >/dev/null || true
       echo "FISH=$(locald env --format fish | grep -c 'set -gx LOCALD_ENV_DIFF')"
       locald exec -- sh -c 'echo "EXEC=$PATH \${LOCALD_ENV_DIFF:-unmarked}"'`,
      f.env,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /LIST=\/fixture\/prepended:\/mine APPEND=\/mine:\/fixture\/appended/);
    const path = r.stdout.match(/PATH=(\S+)/)![1].split(":");
    // Kept, behind the project's tools (as in `locald shell`).
    assert.ok(path.indexOf("/added") > path.findIndex((p) => p.endsWith("/tools/bin")));
    assert.equal(path.filter((p) => p.endsWith("/tools/bin")).length, 1, path.join("\n"));
    assert.match(r.stdout, /FISH=1/);
    // exec inside such a shell: the environment once, not on top of itself.
    const exec = r.stdout.match(/EXEC=(\S+) (\S+)/)!;
    assert.equal(exec[1].split(":").filter((p) => p.endsWith("/tools/bin")).length, 1, exec[1]);
    assert.equal(exec[2], "unmarked");
  } finally {
    await f.cleanup();
  }
});

Deno.test("locald's own files (.envrc, .devcontainer/) never make the project out of date", async () => {
  const f = await builtFixtureOnPath();
  try {
    await Deno.writeTextFile(join(f.app, ".envrc"), 'eval "$(locald env --format direnv)"\n');
    await Deno.mkdir(join(f.app, ".devcontainer"));
    await Deno.writeTextFile(join(f.app, ".devcontainer", "devcontainer.json"), "{}\n");
    await Deno.mkdir(join(f.app, ".direnv"));
    const e = await bash(`cd ${f.app} && locald exec -- true && locald build`, f.env);
    assert.equal(e.code, 0, e.stderr);
    assert.doesNotMatch(e.stderr, /changed since its environment was built/);
    assert.match(e.stderr, /is up to date/);
  } finally {
    await f.cleanup();
  }
});

Deno.test("direnv set up before the first build loads it by itself once built", async () => {
  const f = await builtFixtureOnPath();
  try {
    const app = join(f.root, "fresh");
    await Deno.mkdir(app);
    await Deno.writeTextFile(join(app, "fixture.txt"), "x\n");
    await Deno.writeTextFile(join(app, ".envrc"), 'eval "$(locald env --format direnv)"\n');
    const r = await bash(
      `cd ${app}
       direnv allow .
       eval "$(direnv export bash)"
       echo "before: $(command -v fixture-tool || echo none)"
       locald build -b ${FIXTURE_BP} >/dev/null 2>&1
       eval "$(direnv export bash 2>/dev/null)"
       echo "after: $(command -v fixture-tool || echo none)"`,
      f.env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /before: none/);
    assert.match(r.stdout, /after: \/.*\/layers\/.*\/tools\/bin\/fixture-tool/);
    assert.match(
      r.stderr,
      /has not been built yet; direnv loads the environment once `locald build` has run/,
    );
  } finally {
    await f.cleanup();
  }
});

Deno.test("a command the environment lacks: one locald line with a hint, exit 127", async () => {
  const f = await builtFixtureOnPath();
  try {
    const r = await bash(`cd ${f.app} && locald exec -- nonexistent-cmd --flag`, f.env);
    assert.equal(r.code, 127);
    assert.match(
      r.stderr,
      /^locald: nonexistent-cmd: command not found in the environment of \/.*\/app\nhint: [^\n]+\n$/,
    );
    // A command it has still gets its arguments exactly.
    const ok = await bash(`cd ${f.app} && locald exec -- fixture-tool 'a b' '$HOME'`, f.env);
    assert.match(ok.stdout, /args: \[a b\] \[\$HOME\]/);
  } finally {
    await f.cleanup();
  }
});
