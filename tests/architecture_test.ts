/**
 * The floors README's development section draws, kept true: every relative import of src/
 * (static, `import type`, `export ... from` and `import("...")`) goes to the same floor or one
 * below, and no set of files imports itself round (no circle, type-only imports included).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./support/locald.ts";

const FLOORS: Record<string, number> = {
  cli: 5,
  cnb: 4,
  devenv: 4,
  doctor: 4,
  hosts: 3,
  oci: 2,
  tools: 2,
  config: 1,
  archive: 1,
  util: 0,
  output: 0,
  errors: 0,
  version: 0,
};

const floorOf = (rel: string) => {
  const top = rel.split("/")[0].replace(/\.ts$/, "");
  assert.ok(top in FLOORS, `src/${rel}: no floor for "${top}" (add it to README and this test)`);
  return FLOORS[top];
};

function sourceFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...sourceFiles(join(dir, e.name), r));
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) out.push(r);
  }
  return out;
}

/** src-relative path of `spec` imported from `from`, or undefined when it leaves src/. */
function target(from: string, spec: string): string | undefined {
  const parts = from.split("/").slice(0, -1);
  for (const s of spec.split("/")) {
    if (s === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else if (s !== ".") parts.push(s);
  }
  return parts.join("/");
}

const IMPORT =
  /\b(?:import|export)\s+(?:type\s+)?(?:[^;"']*?\s+from\s+)?"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g;

function importGraph(): Map<string, string[]> {
  const src = join(REPO, "src");
  const files = sourceFiles(src);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = Deno.readTextFileSync(join(src, f));
    const to: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const t = target(f, m[1] ?? m[2]);
      if (t && known.has(t)) to.push(t);
    }
    graph.set(f, to);
  }
  return graph;
}

Deno.test("architecture: no import in src/ runs up the floors", () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, `read ${graph.size} files`);
  let edges = 0;
  const up: string[] = [];
  for (const [f, tos] of graph) {
    for (const t of tos) {
      edges++;
      if (floorOf(t) > floorOf(f)) up.push(`${f} -> ${t}`);
    }
  }
  assert.ok(edges > 300, `read ${edges} imports`);
  assert.deepEqual(up, []);
});

Deno.test("architecture: no import circle in src/", () => {
  const graph = importGraph();
  // Tarjan's strongly connected components; a component of more than one file is a circle.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) circles.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  assert.deepEqual(circles, []);
});

Deno.test("architecture: the import reader sees type-only and dynamic imports and where they lead", () => {
  // The reader itself: a type-only import and a dynamic one are both read.
  const text = 'import type { A } from "../cli/context.ts";\nconst m = await import("./b.ts");\n';
  const found = [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
  assert.deepEqual(found, ["../cli/context.ts", "./b.ts"]);
  assert.equal(target("hosts/a.ts", "../cli/context.ts"), "cli/context.ts");
  assert.equal(target("a.ts", "../outside.ts"), undefined);
  assert.ok(floorOf("cli/context.ts") > floorOf("hosts/a.ts"));
});
