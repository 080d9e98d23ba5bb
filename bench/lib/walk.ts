/** The fingerprint walk alone, for memory measurements: deno run -A bench/lib/walk.ts DIR|--none */
import { treeDigest } from "../../src/util/tree_digest.ts";

if (Deno.args[0] !== "--none") console.log(await treeDigest(Deno.args[0], { gitignore: true }));
