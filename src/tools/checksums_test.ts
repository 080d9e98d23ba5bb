import assert from "node:assert/strict";
import { formatSha256Sums, parseChecksums } from "./checksums.ts";

const A = "a".repeat(64);
const B = "0123456789abcdef".repeat(4);

Deno.test("parseChecksums reads sha256sum's order: digest, then name (text and binary mode)", () => {
  const sums = parseChecksums(
    `${A}  lima-2.2.0-Linux-x86_64.tar.gz\n${B} *lima-2.2.0-Darwin-arm64.tar.gz\n`,
  );
  assert.equal(sums.get("lima-2.2.0-Linux-x86_64.tar.gz"), A);
  assert.equal(sums.get("lima-2.2.0-Darwin-arm64.tar.gz"), B);
  assert.equal(sums.size, 2);
});

Deno.test("parseChecksums reads the lifecycle release's order: path, then digest", () => {
  // What the lifecycle's release job writes: the packager's "<archive path>  <digest>" lines.
  const text = [
    `/home/runner/work/lifecycle/lifecycle/out/lifecycle-v0.21.17+linux.arm64.tgz  ${A}`,
    `out/lifecycle-v0.21.17+linux.x86-64.tgz ${B}`,
  ].join("\n");
  const sums = parseChecksums(text);
  assert.equal(sums.get("lifecycle-v0.21.17+linux.arm64.tgz"), A);
  assert.equal(sums.get("lifecycle-v0.21.17+linux.x86-64.tgz"), B);
});

Deno.test("parseChecksums ignores blank lines, comments, CRLF and lines without a digest", () => {
  const text =
    `# SHA256 checksums\r\n\r\n${B.toUpperCase()}  ./dir/file.tgz\r\nnot a checksum line\r\n` +
    `${"f".repeat(63)}  short.tgz\n${"g".repeat(64)}  not-hex.tgz\n`;
  const sums = parseChecksums(text);
  assert.deepEqual([...sums], [["file.tgz", B]], "digests are lowercased, paths reduced to names");
});

Deno.test("formatSha256Sums writes what sha256sum -c reads, and parses back", () => {
  const text = formatSha256Sums([["x.tgz", A], ["y.tgz", B]]);
  assert.equal(text, `${A}  x.tgz\n${B}  y.tgz\n`);
  assert.deepEqual([...parseChecksums(text)], [["x.tgz", A], ["y.tgz", B]]);
});
