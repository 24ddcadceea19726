#!/usr/bin/env node
// The `codex` command npm links: find this machine's native codex and hand the process over.
//
// The native file lives in a per-platform package that npm installs as an optional
// dependency. npm skips those silently at times (--omit=optional, a lockfile made on another
// OS, a registry that had not yet seen the platform version), so when it is missing we fetch
// it ourselves, check it against the integrity recorded in our package.json when it was
// published, and unpack it where npm would have put it.
"use strict";

// Only what every run needs is loaded up front; the fetch path loads the rest when it runs.
const childProcess = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const PACKAGE_DIR = path.join(__dirname, "..");
// Read when the shim runs (not when a test loads this file as a module).
let MANIFEST = null;
const DEFAULT_REGISTRY = "https://registry.npmjs.org/";
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

// process.platform-process.arch -> target triple of the native build.
const TRIPLES = {
  "linux-x64": "x86_64-unknown-linux-musl",
  "linux-arm64": "aarch64-unknown-linux-musl",
  "darwin-x64": "x86_64-apple-darwin",
  "darwin-arm64": "aarch64-apple-darwin",
  "win32-x64": "x86_64-pc-windows-msvc",
};

function fail(message) {
  process.stderr.write(`codex: ${message}\n`);
  process.exit(1);
}

function platformKey() {
  // Android (e.g. Termux) runs Linux binaries; the static musl build needs nothing else.
  const os_ = process.platform === "android" ? "linux" : process.platform;
  return `${os_}-${process.arch}`;
}

function binaryPath(packageDir, triple) {
  const name = process.platform === "win32" ? "codex.exe" : "codex";
  return path.join(packageDir, "vendor", triple, "bin", name);
}

function aliasDir(alias) {
  return path.join(PACKAGE_DIR, "node_modules", ...alias.split("/"));
}

// Where a fetched copy goes when our own package folder is not writable (e.g. a global
// install made by root, run by a user).
function cacheDir(version) {
  const base = process.platform === "win32"
    ? process.env.LOCALAPPDATA || path.join(os.homedir(), "AppData", "Local")
    : process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "codex-npm", version);
}

function findInstalled(alias, triple, version) {
  const candidates = [];
  try {
    candidates.push(path.dirname(require.resolve(`${alias}/package.json`, { paths: [PACKAGE_DIR] })));
  } catch (_) {
    // not installed by npm; look at the places a fallback fetch would have used
  }
  candidates.push(aliasDir(alias), cacheDir(version));
  for (const dir of candidates) {
    const bin = binaryPath(dir, triple);
    if (fs.existsSync(bin)) return bin;
  }
  return null;
}

function npmConfig(key) {
  const envKey = `npm_config_${key}`;
  for (const k of Object.keys(process.env)) {
    if (k.toLowerCase() === envKey.toLowerCase() && process.env[k]) return process.env[k];
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = childProcess.spawnSync(npm, ["config", "get", key], {
    encoding: "utf8",
    shell: process.platform === "win32",
    timeout: 30000,
  });
  const value = r.status === 0 ? r.stdout.trim() : "";
  return value && value !== "undefined" && value !== "null" ? value : null;
}

function registryFor(name) {
  const scope = name.startsWith("@") ? name.split("/")[0] : null;
  const url = (scope && npmConfig(`${scope}:registry`)) || npmConfig("registry") || DEFAULT_REGISTRY;
  return url.endsWith("/") ? url : `${url}/`;
}

function tarballUrl(registry, name, version) {
  const base = name.split("/").pop();
  return `${registry}${name}/-/${base}-${version}.tgz`;
}

function download(url, redirects = 5) {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith("https:") ? require("https") : require("http");
    const req = lib.get(url, { headers: { "user-agent": "codex-npm-shim" } }, (res) => {
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && res.headers.location && redirects > 0) {
        res.resume();
        resolve(download(new URL(res.headers.location, url).toString(), redirects - 1));
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        return;
      }
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.setTimeout(120000, () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on("error", reject);
  });
}

function checkIntegrity(data, integrity, url) {
  const [algo, expected] = integrity.split(/-(.*)/s);
  if (!["sha512", "sha256"].includes(algo)) throw new Error(`unsupported integrity ${integrity}`);
  const actual = require("crypto").createHash(algo).update(data).digest("base64");
  if (actual !== expected) {
    throw new Error(
      `refusing ${url}: its ${algo} is ${algo}-${actual}, but this release recorded ${integrity} ` +
        "(corrupted download or tampered registry)"
    );
  }
}

// The few tar features `npm pack` writes: ustar headers, pax `path` records, regular files.
function untar(buf) {
  const files = [];
  let off = 0;
  let paxPath = null;
  const field = (h, start, end) => h.subarray(start, end).toString("utf8").replace(/\0[\s\S]*$/, "");
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    let name = field(h, 0, 100);
    const prefix = field(h, 345, 500);
    if (prefix) name = `${prefix}/${name}`;
    const mode = parseInt(field(h, 100, 108).trim() || "0", 8);
    const size = parseInt(field(h, 124, 136).trim() || "0", 8);
    const type = field(h, 156, 157) || "0";
    const body = buf.subarray(off + 512, off + 512 + size);
    if (body.length !== size) throw new Error("truncated tarball");
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      paxPath = m ? m[1] : null;
      continue;
    }
    if (paxPath) {
      name = paxPath;
      paxPath = null;
    }
    if (type !== "0" && type !== "5") throw new Error(`unexpected entry type ${type} for ${name}`);
    const parts = name.split("/").filter((p) => p && p !== ".");
    if (parts[0] === "package") parts.shift();
    if (parts.length === 0 || parts.includes("..") || path.isAbsolute(name)) {
      if (type === "5") continue;
      throw new Error(`unsafe path in tarball: ${name}`);
    }
    if (type === "0") files.push({ parts, mode, body });
  }
  return files;
}

function unpackInto(dest, files, triple) {
  const staging = `${dest}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    for (const f of files) {
      const file = path.join(staging, ...f.parts);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, f.body, { mode: f.mode & 0o777 || 0o644 });
    }
    const bin = binaryPath(staging, triple);
    if (!fs.existsSync(bin)) throw new Error(`the fetched package has no ${path.relative(staging, bin)}`);
    fs.chmodSync(bin, 0o755);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(staging, dest); // the package appears whole or not at all
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return binaryPath(dest, triple);
}

async function restore(alias, triple, info) {
  const url = tarballUrl(registryFor(MANIFEST.name), MANIFEST.name, info.version);
  process.stderr.write(`codex: ${alias} is not installed; fetching ${url}\n`);
  const data = await download(url);
  checkIntegrity(data, info.integrity, url);
  const files = untar(require("zlib").gunzipSync(data));
  try {
    return unpackInto(aliasDir(alias), files, triple);
  } catch (e) {
    if (e.code !== "EACCES" && e.code !== "EPERM" && e.code !== "EROFS") throw e;
    return unpackInto(cacheDir(info.version), files, triple);
  }
}

function fixCommand() {
  return `npm install -g ${MANIFEST.name}@${MANIFEST.version} --include=optional`;
}

async function locateBinary() {
  const key = platformKey();
  const triple = TRIPLES[key];
  const platforms = MANIFEST.codexPlatforms || {};
  const info = platforms[key];
  if (!triple || !info) {
    fail(
      `no native build of ${MANIFEST.name} for ${key} (this release has: ` +
        `${Object.keys(platforms).join(", ") || "none"})`
    );
  }
  const alias = `${MANIFEST.name}-${key}`;
  const found = findInstalled(alias, triple, info.version);
  if (found) return found;
  try {
    return await restore(alias, triple, info);
  } catch (e) {
    fail(
      `missing optional dependency ${alias} (the native codex for ${key}), and fetching it ` +
        `failed: ${e.message}\nReinstall with optional dependencies enabled:\n  ${fixCommand()}`
    );
  }
  return null;
}

function run(bin) {
  const args = process.argv.slice(2);
  const env = { ...process.env, CODEX_MANAGED_BY_NPM: "1" };
  if (typeof process.execve === "function" && process.platform !== "win32") {
    // Replace this Node process: signals, exit status and the TTY are the binary's own.
    process.execve(bin, [bin, ...args], env);
  }
  const child = childProcess.spawn(bin, args, { stdio: "inherit", env });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch (_) {
        // already gone; its exit event follows
      }
    }
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  child.on("error", (e) => fail(`cannot run ${bin}: ${e.message}`));
  child.on("exit", (code, signal) => {
    if (signal) {
      // Die the same way so a calling shell sees what happened to the binary.
      for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      // Only reached if the signal does not end us (a background job of a non-interactive
      // shell starts with SIGINT ignored): then say it with the shell's 128+N convention.
      // Not unref'd: it must keep the event loop alive until it fires.
      setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 500);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

if (require.main === module) {
  MANIFEST = require(path.join(PACKAGE_DIR, "package.json"));
  locateBinary().then(run, (e) => fail(e.stack || String(e)));
} else {
  // For installers/npm/test/: the pieces that decide what gets unpacked and run.
  module.exports = { TRIPLES, checkIntegrity, platformKey, tarballUrl, untar, unpackInto };
}
