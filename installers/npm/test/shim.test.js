// Unit tests of the npm shim's fetch path: `node --test installers/npm/test/`.
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const test = require("node:test");

const shim = require("../codex.js");

// A ustar header for `name` (as npm pack and tar write them), followed by the padded body.
function entry(name, body, { type = "0", mode = 0o644, prefix = "" } = {}) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write(mode.toString(8).padStart(7, "0") + "\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(body.length.toString(8).padStart(11, "0") + "\0", 124);
  h.write("00000000000\0", 136);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  h.write(prefix, 345, 155);
  h.fill(" ", 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return Buffer.concat([h, padded]);
}

function tarball(...entries) {
  return Buffer.concat([...entries, Buffer.alloc(1024)]);
}

test("every supported platform maps to a release triple", () => {
  assert.equal(shim.TRIPLES["linux-x64"], "x86_64-unknown-linux-musl");
  assert.equal(shim.TRIPLES["linux-arm64"], "aarch64-unknown-linux-musl");
  assert.equal(shim.TRIPLES["darwin-arm64"], "aarch64-apple-darwin");
  assert.equal(shim.TRIPLES["darwin-x64"], "x86_64-apple-darwin");
  assert.equal(shim.TRIPLES["win32-x64"], "x86_64-pc-windows-msvc");
  assert.equal(shim.platformKey(), `${process.platform === "android" ? "linux" : process.platform}-${process.arch}`);
});

test("tarball URLs follow the registry layout, scoped or not", () => {
  assert.equal(shim.tarballUrl("http://r/", "@s/codex", "1.0.0-linux-x64"),
    "http://r/@s/codex/-/codex-1.0.0-linux-x64.tgz");
  assert.equal(shim.tarballUrl("https://r/npm/", "codex", "1.0.0"), "https://r/npm/codex/-/codex-1.0.0.tgz");
});

test("integrity: a match passes, anything else is refused", () => {
  const data = Buffer.from("payload");
  const good = "sha512-" + crypto.createHash("sha512").update(data).digest("base64");
  shim.checkIntegrity(data, good, "u");
  assert.throws(() => shim.checkIntegrity(Buffer.from("payloaD"), good, "u"), /refusing u/);
  assert.throws(() => shim.checkIntegrity(data, "md5-abc", "u"), /unsupported integrity/);
});

test("untar strips package/, keeps modes, reads ustar prefixes and pax paths", () => {
  const long = "vendor/" + "d".repeat(120) + "/bin/codex";
  const pax = Buffer.from(`${("path=package/" + long).length + 4} path=package/${long}\n`);
  const files = shim.untar(tarball(
    entry("package/package.json", Buffer.from("{}")),
    entry("codex", Buffer.from("#!/bin/sh\n"), { mode: 0o755, prefix: "package/vendor/t/bin" }),
    entry("PaxHeader", pax, { type: "x" }),
    entry("package/ignored-name", Buffer.from("x")),
  ));
  assert.deepEqual(files.map((f) => f.parts.join("/")), ["package.json", "vendor/t/bin/codex", long]);
  assert.equal(files[1].mode, 0o755);
});

test("untar refuses paths that leave the package and links", () => {
  assert.throws(() => shim.untar(tarball(entry("package/../../evil", Buffer.from("x")))), /unsafe path/);
  assert.throws(() => shim.untar(tarball(entry("/etc/evil", Buffer.from("x")))), /unsafe path/);
  assert.throws(() => shim.untar(tarball(entry("package/link", Buffer.alloc(0), { type: "2" }))),
    /unexpected entry type 2/);
  const truncated = entry("package/big", Buffer.alloc(2048)).subarray(0, 1024);
  assert.throws(() => shim.untar(truncated), /truncated/);
});

test("unpackInto places the package whole, or leaves nothing behind", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shim-test-"));
  try {
    const triple = "x86_64-unknown-linux-musl";
    const exe = process.platform === "win32" ? "codex.exe" : "codex";
    const bin = { parts: ["vendor", triple, "bin", exe], mode: 0o644, body: Buffer.from("bin") };
    const dest = path.join(dir, "pkg");
    const placed = shim.unpackInto(dest, [bin], triple);
    assert.equal(placed, path.join(dest, "vendor", triple, "bin", exe));
    if (process.platform !== "win32") assert.equal(fs.statSync(placed).mode & 0o777, 0o755);
    const other = path.join(dir, "other");
    assert.throws(() => shim.unpackInto(other, [{ ...bin, parts: ["README"] }], triple), /has no vendor/);
    assert.deepEqual(fs.readdirSync(dir), ["pkg"]); // no half-written staging folder
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
