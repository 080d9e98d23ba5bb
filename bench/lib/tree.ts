/**
 * Source trees of a given size for the scale benchmarks, deterministic (the same tree for the
 * same arguments):
 *
 * - "flat": an app's sources, 200 files to a directory, one level deep;
 * - "node": a small app plus a node_modules-like tree (packages with package.json, lib/,
 *   nested node_modules, about 8 files to a directory, 3-6 levels deep).
 *
 * With `gitignore`, the tree has the .gitignore files such projects have: the top-level one
 * (node_modules/ ignored in the "node" shape, logs and build output in both) and a few nested
 * ones. Every file is a real file with a few bytes in it.
 *
 * Run directly: deno run -A bench/lib/tree.ts DIR FILES flat|node [--gitignore]
 */
export type Shape = "flat" | "node";

export async function makeTree(dir: string, files: number, shape: Shape, gitignore: boolean) {
  await Deno.mkdir(dir, { recursive: true });
  let n = 0;
  const made = new Set<string>();
  const write = (rel: string, text = `// ${rel}\n`) => {
    const slash = rel.lastIndexOf("/");
    if (slash > 0) {
      const d = rel.slice(0, slash);
      if (!made.has(d)) {
        Deno.mkdirSync(`${dir}/${d}`, { recursive: true });
        made.add(d);
      }
    }
    Deno.writeTextFileSync(`${dir}/${rel}`, text);
    n++;
  };
  write("package.json", '{"name":"app","version":"1.0.0"}\n');
  write("README.md", "# app\n");
  if (gitignore) {
    write(".gitignore", "node_modules/\n*.log\n/dist\n.env\ncoverage/\n!keep.log\n");
  }
  if (shape === "flat") {
    for (let i = 0; n < files; i++) {
      write(`src/m${String(Math.floor(i / 200)).padStart(4, "0")}/f${i % 200}.ts`);
      if (gitignore && i % 5000 === 0) write(`src/m${Math.floor(i / 200)}/.gitignore`, "*.tmp\n");
    }
    return n;
  }
  // node: a few app files, then packages until the count is reached.
  for (let i = 0; i < 20; i++) write(`src/app${i}.js`);
  let p = 0;
  while (n < files) {
    const pkg = `node_modules/pkg${p}`;
    write(`${pkg}/package.json`, `{"name":"pkg${p}"}\n`);
    write(`${pkg}/index.js`);
    write(`${pkg}/README.md`);
    write(`${pkg}/LICENSE`);
    for (let j = 0; j < 8 && n < files; j++) write(`${pkg}/lib/part${j}.js`);
    for (let j = 0; j < 8 && n < files; j++) write(`${pkg}/lib/util/u${j}.js`);
    if (gitignore && p % 50 === 0) write(`${pkg}/.gitignore`, "*.map\nbuild/\n");
    // Every third package has its own nested dependencies.
    if (p % 3 === 0) {
      for (let k = 0; k < 3 && n < files; k++) {
        const dep = `${pkg}/node_modules/dep${k}`;
        write(`${dep}/package.json`, `{"name":"dep${k}"}\n`);
        for (let j = 0; j < 6 && n < files; j++) write(`${dep}/dist/d${j}.js`);
      }
    }
    p++;
  }
  return n;
}

if (import.meta.main) {
  const [dir, count, shape, flag] = Deno.args;
  const made = await makeTree(dir, Number(count), shape as Shape, flag === "--gitignore");
  console.log(`${made} files in ${dir}`);
}
