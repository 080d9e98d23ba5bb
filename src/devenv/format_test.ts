import assert from "node:assert/strict";
import {
  around,
  diffEnv,
  ENV_MARK,
  parseEnvZ,
  renderEnv,
  renderReapply,
  withMark,
  withoutLocaldEnv,
} from "./format.ts";
import { devcontainerDoc } from "./devcontainer.ts";

Deno.test("diffEnv: what the build adds or changes, without the shell's own variables", () => {
  const d = diffEnv(
    { PATH: "/usr/bin", GONE: "x", PWD: "/a", KEEP: "same" },
    { PATH: "/l/bin:/usr/bin", NEW: "1", PWD: "/b", SHLVL: "2", KEEP: "same" },
  );
  assert.deepEqual(d.set, [["NEW", "1"], ["PATH", "/l/bin:/usr/bin"]]);
  assert.deepEqual(d.unset, ["GONE"]);
  assert.deepEqual(parseEnvZ("A=1\0B=x=y\0\0"), { A: "1", B: "x=y" });
});

Deno.test("every format quotes what its shell needs", () => {
  const d = {
    set: [["A", "it's $x\nnext"], ["PATH", "/a b:/c"]] as [string, string][],
    unset: ["U"],
  };
  assert.equal(renderEnv(d, "sh"), `export A='it'\\''s $x\nnext'\nexport PATH='/a b:/c'\nunset U`);
  assert.equal(
    renderEnv(d, "fish"),
    "set -gx A 'it\\'s $x\nnext'\nset -gx PATH '/a b' '/c'\nset -e U",
  );
  assert.equal(
    renderEnv(d, "pwsh"),
    "$env:A = 'it''s $x\nnext'\n$env:PATH = '/a b:/c'\nRemove-Item Env:U -ErrorAction SilentlyContinue",
  );
  assert.equal(renderEnv(d, "dotenv"), 'A="it\'s \\$x\\nnext"\nPATH="/a b:/c"');
  assert.deepEqual(JSON.parse(renderEnv(d, "json")), {
    A: "it's $x\nnext",
    PATH: "/a b:/c",
    U: null,
  });
  assert.match(
    renderEnv(d, "direnv", ["/s/build.json"]),
    /^export A=.*\nwatch_file '\/s\/build\.json'$/s,
  );
});

Deno.test("the devcontainer document: run image, /workspace, /layers, remoteEnv", () => {
  const doc = devcontainerDoc({
    projectDir: "/src/app",
    runImage: "r/run:1",
    layersDir: "/state/image/layers",
    platformApi: "0.15",
    remoteEnv: { PATH: "/layers/x/bin:${containerEnv:PATH}" },
  });
  assert.equal(doc.image, "r/run:1");
  assert.equal(doc.workspaceFolder, "/workspace");
  assert.deepEqual(doc.mounts, [{
    source: "/state/image/layers",
    target: "/layers",
    type: "bind",
  }]);
  assert.equal(
    (doc.remoteEnv as Record<string, string>).PATH,
    "/layers/x/bin:${containerEnv:PATH}",
  );
});

Deno.test("around: what a build added before and after a value, at delimiters only", () => {
  assert.deepEqual(around("/usr/bin", "/l/bin:/usr/bin"), ["/l/bin:", ""]);
  assert.deepEqual(around("-Xss1m", "-Xss1m -Xmx1g"), ["", " -Xmx1g"]);
  assert.equal(around("/usr/bin", "/usr/bin"), undefined);
  assert.equal(around("1", "10"), undefined); // not at a delimiter: replaced
  assert.equal(around(undefined, "/l/bin"), undefined);
});

Deno.test("env marks what it changed, and the next run starts from before it", () => {
  const base = { PATH: "/usr/bin", LIST: "/mine", GONE: "g", HOME: "/h" };
  const d = diffEnv(base, { PATH: "/l/bin:/usr/bin", LIST: "/l:/mine", NEW: "n", HOME: "/h" });
  const marked = withMark(base, d);
  const applied: Record<string, string> = { ...base, ...Object.fromEntries(marked.set) };
  for (const k of marked.unset) delete applied[k];
  assert.ok(applied[ENV_MARK]);
  assert.deepEqual(withoutLocaldEnv(applied), base);
  // A PATH added to since keeps the addition; a value the user replaced stays theirs.
  applied.PATH = `/added:${applied.PATH}`;
  applied.NEW = "mine now";
  assert.deepEqual(withoutLocaldEnv(applied), {
    ...base,
    PATH: "/added:/usr/bin",
    NEW: "mine now",
  });
  // A broken mark is dropped, nothing else touched.
  assert.deepEqual(withoutLocaldEnv({ A: "1", [ENV_MARK]: "{" }), { A: "1" });
});

Deno.test("renderReapply: additions around the shell's current value, replacements as values", () => {
  const base = { PATH: "/usr/bin", OPTS: "-a", X: "old" };
  const d = diffEnv(base, { PATH: "/l/b c:/usr/bin", OPTS: "-a -b", X: "new", N: "it's" });
  assert.equal(
    renderReapply(d, base, "sh"),
    `export N='it'\\''s'\nexport OPTS="$OPTS"' -b'\nexport PATH='/l/b c:'"$PATH"\nexport X='new'`,
  );
  assert.equal(
    renderReapply(d, base, "fish"),
    `set -gx N 'it\\'s'\nset -gx OPTS "$OPTS"' -b'\nset -gx PATH '/l/b c' $PATH\nset -gx X 'new'`,
  );
});
