import assert from "node:assert/strict";
import { LocaldError } from "../errors.ts";
import { run } from "./runner.ts";

const ENV = { PATH: "/usr/bin:/bin" };

Deno.test("runner: argv with spaces, quotes, newlines and shell syntax reaches the child exactly", async () => {
  const args = [
    "a b",
    "it's",
    'q"uo"te',
    "new\nline",
    "$HOME",
    "*",
    "",
    "back\\slash",
    "; ls",
    "$(id)",
    "`id`",
    "héllo ✓",
  ];
  // printf NUL-terminates each argument: the bytes the child got, one per element.
  const r = await run(["printf", "%s\\0", ...args], { env: ENV, clearEnv: true });
  assert.equal(r.code, 0);
  assert.deepEqual(r.stdout.split("\0").slice(0, -1), args);
});

Deno.test("runner: the real program runs, not a dax built-in of the same name", async () => {
  // dax has its own `cat`; /bin/cat knows -A, the built-in does not.
  const r = await run(["cat", "-A"], { env: ENV, clearEnv: true, stdin: "a\tb\n" });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "a^Ib$\n");
});

Deno.test("runner: stdin text and bytes reach the child", async () => {
  const t = await run(["cat"], { env: ENV, clearEnv: true, stdin: "one\ntwo\n" });
  assert.equal(t.stdout, "one\ntwo\n");
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const b = await run(["od", "-An", "-tu1"], { env: ENV, clearEnv: true, stdin: bytes });
  assert.deepEqual(b.stdout.trim().split(/\s+/), ["0", "1", "2", "255"]);
  // A stream (a file, say) is piped in; bytes that are not UTF-8 come back as they are.
  const s = await run(["cat"], { env: ENV, clearEnv: true, stdin: new Blob([bytes]).stream() });
  assert.deepEqual(s.stdoutBytes, bytes);
});

Deno.test("runner: lines stream in order, before the child ends, per stream", async () => {
  const seen: string[] = [];
  const errs: string[] = [];
  let firstAt = 0;
  const t0 = Date.now();
  const script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; sleep 1; printf tail";
  const r = await run(["sh", "-c", script], {
    env: ENV,
    clearEnv: true,
    onStdoutLine: (l) => {
      if (!seen.length) firstAt = Date.now() - t0;
      seen.push(l);
    },
    onStderrLine: (l) => errs.push(l),
  });
  assert.deepEqual(seen, ["out1", "out2", "out3", "out4", "out5", "tail"]);
  assert.deepEqual(errs, ["err1", "err2", "err3", "err4", "err5"]);
  assert.equal(r.stdout, "out1\nout2\nout3\nout4\nout5\ntail");
  // The first line came while the child still slept, not when it ended.
  assert.ok(firstAt < Date.now() - t0 - 500, `first line at ${firstAt} ms`);
});

Deno.test("runner: a timeout stops the child and is a LocaldError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t0 = Date.now();
    await assert.rejects(
      // exec: the timeout stops the program it started, not programs that one left behind.
      run(["sh", "-c", `exec sleep 30; touch '${dir}/finished'`], {
        env: ENV,
        clearEnv: true,
        timeout: 200,
        hint: "try again",
      }),
      (e: unknown) => {
        assert.ok(e instanceof LocaldError);
        assert.match(e.message, /did not finish within 200 ms/);
        assert.equal(e.hint, "try again");
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 10_000);
    await assert.rejects(Deno.stat(`${dir}/finished`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner: a missing program is a clear LocaldError with exit code 127", async () => {
  for (const name of ["locald-no-such-program", "/nonexistent/dir/prog"]) {
    await assert.rejects(
      run([name, "x"], { env: ENV, clearEnv: true, hint: "install it" }),
      (e: unknown) => {
        assert.ok(e instanceof LocaldError);
        assert.equal(e.message, `cannot run ${name}: not found`);
        assert.equal(e.hint, "install it");
        assert.equal(e.exitCode, 127);
        return true;
      },
    );
  }
});

Deno.test("runner: exit codes come back; check turns failure into a LocaldError", async () => {
  const r = await run(["sh", "-c", "echo bad >&2; exit 3"], { env: ENV, clearEnv: true });
  assert.equal(r.code, 3);
  assert.equal(r.stderr, "bad\n");
  await assert.rejects(
    run(["sh", "-c", "echo nope >&2; exit 3"], {
      env: ENV,
      clearEnv: true,
      check: true,
      hint: "h",
    }),
    (e: unknown) =>
      e instanceof LocaldError && e.message === "sh failed (exit 3): nope" && e.hint === "h",
  );
});

Deno.test("runner: env is cleared when asked and cwd is honoured", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "run dir é" }));
  try {
    const r = await run(["sh", "-c", 'pwd; env | grep -c . ; echo "$X"'], {
      env: { ...ENV, X: "x y" },
      clearEnv: true,
      cwd: dir,
    });
    const [pwd, , x] = r.stdout.split("\n");
    assert.equal(pwd, dir);
    assert.equal(x, "x y");
    assert.doesNotMatch(r.stdout, /^HOME=/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runner: a program whose path has spaces, quotes and unicode runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "My Tools 'é' " });
  try {
    const prog = `${dir}/say hi`;
    await Deno.writeTextFile(prog, '#!/bin/sh\nprintf "%s|" "$0" "$@"\n');
    await Deno.chmod(prog, 0o755);
    const r = await run([prog, "a b"], { env: ENV, clearEnv: true });
    assert.equal(r.stdout, `${prog}|a b|`);
    // Found on PATH too.
    const p = await run(["say hi"], { env: { PATH: `${dir}:/usr/bin:/bin` }, clearEnv: true });
    assert.equal(p.stdout, `${prog}|`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
