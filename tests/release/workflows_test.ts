/**
 * .github/workflows: parsed by Debian's ruby (Psych) and checked for what a release depends
 * on, then linted by actionlint (built from its Go module into the test cache; it also runs
 * shellcheck over every `run:` script when shellcheck is installed). What this cannot prove:
 * that GitHub's runners behave as written; only a tagged release shows that.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TARGETS } from "../../scripts/release/project.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const dec = new TextDecoder();
const cache = Deno.env.get("LOCALD_TEST_CACHE") ?? "/var/cache/locald-test";
const ACTIONLINT = "v1.7.10";

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
}
interface Job {
  steps: Step[];
  needs?: string | string[];
  strategy?: { matrix: { include: { runner: string; target: string }[] } };
  permissions?: Record<string, string>;
}
interface Workflow {
  env: Record<string, string>;
  jobs: Record<string, Job>;
  on: Record<string, unknown>;
}

async function load(name: string): Promise<Workflow> {
  const o = await new Deno.Command("ruby", {
    args: [
      "-ryaml",
      "-rjson",
      "-e",
      "puts JSON.generate(YAML.safe_load(File.read(ARGV[0]), aliases: true))",
      join(repo, ".github", "workflows", name),
    ],
  }).output();
  assert.equal(o.code, 0, `${name} is not valid YAML: ${dec.decode(o.stderr)}`);
  const wf = JSON.parse(dec.decode(o.stdout));
  // YAML 1.1 reads the key `on` as the boolean true.
  wf.on = wf.on ?? wf["true"];
  return wf as Workflow;
}

const runs = (job: Job) => job.steps.map((s) => s.run ?? "").join("\n");
const allRuns = (wf: Workflow) => Object.values(wf.jobs).map(runs).join("\n");

Deno.test("ci.yml runs the README's test command with the pinned Deno", async () => {
  const ci = await load("ci.yml");
  const deno = JSON.parse(await Deno.readTextFile(join(repo, "deno.json")));
  assert.equal(deno.tasks.test, "bash scripts/test.sh");
  assert.match(runs(ci.jobs.test), /bash scripts\/test\.sh/);
  assert.match(runs(ci.jobs.test), /npm install --global "deno@\$\{DENO_VERSION\}"/);
  assert.ok(ci.on.pull_request !== undefined && ci.on.push !== undefined);
});

Deno.test("release.yml: tag-triggered, pinned, refuses missing pins, smoke-tests all targets", async () => {
  const rel = await load("release.yml");
  const ci = await load("ci.yml");
  assert.deepEqual(Object.keys(rel.on), ["push"]);
  assert.ok((rel.on.push as { tags: string[] }).tags.every((t) => t.startsWith("v")));
  assert.match(rel.env.DENO_VERSION, /^\d+\.\d+\.\d+$/, "Deno must be pinned to an exact version");
  assert.equal(rel.env.DENO_VERSION, ci.env.DENO_VERSION, "CI and releases use the same Deno");

  const build = runs(rel.jobs.build);
  const pins = build.indexOf("scripts/update-pins.ts --require-all");
  const compile = build.indexOf("deno task compile --version");
  assert.ok(pins !== -1 && compile > pins, "pins are required before compiling");

  const smoke = rel.jobs.smoke;
  assert.deepEqual(
    smoke.strategy!.matrix.include.map((m) => m.target).sort(),
    TARGETS.map((t) => `${t.os}-${t.arch}`).sort(),
  );
  const smokeRuns = runs(smoke);
  for (
    const cmd of [
      "locald version",
      "locald --help",
      "locald build -C examples/hello",
      "locald exec -C examples/hello -- hello",
      "& $locald version",
      "& $locald --help",
    ]
  ) assert.ok(smokeRuns.includes(cmd), `smoke test lacks: ${cmd}`);
  const linuxBuild = smoke.steps.find((s) => s.run?.includes("locald build -C examples/hello"));
  assert.equal(linuxBuild?.if, "runner.os == 'Linux'");
  // The compiled binary's exec start-up, measured against deno run main.ts in the same job.
  const startup = smoke.steps.find((s) => s.run?.includes("hyperfine"));
  assert.ok(startup, "no start-up measurement of the compiled binary");
  assert.match(startup.run!, /"locald exec -C examples\/hello -- true"/);
  assert.match(startup.run!, /"deno run -A --quiet main\.ts exec -C examples\/hello -- true"/);
  assert.ok(
    smoke.steps.indexOf(startup) > smoke.steps.indexOf(linuxBuild!),
    "start-up is measured on the built example",
  );

  assert.deepEqual(rel.jobs.publish.needs, ["build", "smoke"]);
  assert.equal(rel.jobs.publish.permissions?.contents, "write");
  assert.match(
    runs(rel.jobs.publish),
    /dist\/SHA256SUMS scripts\/install\.sh scripts\/install\.ps1/,
  );
  const pm = runs(rel.jobs["package-managers"]);
  assert.match(pm, /scripts\/release\/homebrew\.ts --version "\$VERSION" --sums dist\/SHA256SUMS/);
  assert.match(pm, /scripts\/release\/scoop\.ts --version "\$VERSION" --sums dist\/SHA256SUMS/);
  assert.ok(!/\$\{\{\s*secrets\./.test(allRuns(rel)), "secrets go through env, not into scripts");
});

async function actionlint(): Promise<string | undefined> {
  const bin = join(cache, "bin", "actionlint");
  try {
    const v = await new Deno.Command(bin, { args: ["-version"] }).output();
    if (dec.decode(v.stdout).startsWith(ACTIONLINT)) return bin;
  } catch { /* not built yet */ }
  const go = ["go", "/usr/local/go/bin/go"];
  for (const g of go) {
    try {
      const o = await new Deno.Command(g, {
        args: ["install", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT}`],
        env: { GOBIN: join(cache, "bin") },
      }).output();
      if (o.success) return bin;
    } catch { /* try the next go */ }
  }
  return undefined;
}

Deno.test("workflows pass actionlint (with shellcheck over run: scripts)", async () => {
  const bin = await actionlint();
  assert.ok(bin, `actionlint ${ACTIONLINT} could not be built: Go is needed for this test`);
  const o = await new Deno.Command(bin, {
    args: [".github/workflows/ci.yml", ".github/workflows/release.yml"],
    cwd: repo,
  }).output();
  assert.equal(o.code, 0, dec.decode(o.stdout) + dec.decode(o.stderr));
});
