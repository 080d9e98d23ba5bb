import assert from "node:assert/strict";
import { diffEnv, parseEnvZ, renderEnv } from "./format.ts";
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
