import assert from "node:assert/strict";
import { join } from "node:path";
import { readBuildpack } from "./buildpacks.ts";
import { goArch, hostTarget } from "../hosts/target.ts";

async function tree(root: string, files: Record<string, string>) {
  for (const [rel, content] of Object.entries(files)) {
    await Deno.mkdir(join(root, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, rel), content);
  }
}

const TOML = 'api = "0.10"\n[buildpack]\nid = "t/mp"\nversion = "1"\n';

Deno.test("multi-platform buildpacks: a target's path, os/arch, variant and distribution folders", async () => {
  const root = await Deno.makeTempDir({ prefix: "locald-bp-" });
  const arch = goArch(Deno.build.arch);
  try {
    // bin/ at the root: nothing to flatten.
    await tree(join(root, "plain"), { "buildpack.toml": TOML, "bin/detect": "" });
    assert.equal((await readBuildpack(join(root, "plain"))).platformDir, undefined);
    // linux/<arch>/bin.
    await tree(join(root, "arch"), { "buildpack.toml": TOML, [`linux/${arch}/bin/detect`]: "" });
    assert.equal(
      (await readBuildpack(join(root, "arch"))).platformDir,
      join(root, "arch", "linux", arch),
    );
    // A target's path wins; one that leaves the buildpack is ignored.
    await tree(join(root, "path"), {
      "buildpack.toml": TOML +
        `[[targets]]\nos = "linux"\narch = "${arch}"\npath = "../arch/linux/${arch}"\n` +
        `[[targets]]\nos = "linux"\narch = "${arch}"\npath = "builds/mine"\n`,
      "builds/mine/bin/detect": "",
      [`linux/${arch}/bin/detect`]: "",
    });
    assert.equal(
      (await readBuildpack(join(root, "path"))).platformDir,
      join(root, "path", "builds", "mine"),
    );
    // Distribution folders: this system's is chosen; without a match, said plainly (exit 8).
    const d = (await hostTarget()).distro!;
    await tree(join(root, "distro"), {
      "buildpack.toml": TOML,
      [`linux/${arch}/${d.name}@${d.version}/bin/detect`]: "",
      [`linux/${arch}/other@1/bin/detect`]: "",
    });
    assert.equal(
      (await readBuildpack(join(root, "distro"))).platformDir,
      join(root, "distro", "linux", arch, `${d.name}@${d.version}`),
    );
    await tree(join(root, "two"), {
      "buildpack.toml": TOML,
      [`linux/${arch}/v1/bin/detect`]: "",
      [`linux/${arch}/v2/bin/detect`]: "",
    });
    await assert.rejects(readBuildpack(join(root, "two")), (e: Error & { exitCode?: number }) => {
      assert.match(
        e.message,
        /has several linux\/\w+ folders with bin\/ \(linux\/\w+\/v1, linux\/\w+\/v2\)/,
      );
      assert.equal(e.exitCode, 8);
      return true;
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
