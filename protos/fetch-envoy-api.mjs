// Obtains the Envoy data-plane API .proto files from the pinned npm package, verifies the
// package against its recorded integrity hash, and writes the import closure of the roots we
// compile (protos/roots.txt). Nothing fetched here is committed: it lives in protos/.cache/.
//
// Usage: node protos/fetch-envoy-api.mjs <output closure file>
// Idempotent: a verified, extracted package is never fetched again.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const protosDir = dirname(fileURLToPath(import.meta.url));
const pin = JSON.parse(readFileSync(join(protosDir, "envoy-api.pin.json"), "utf8"));
const cacheDir = join(protosDir, ".cache");
const packageDir = join(cacheDir, `${pin.package.replace(/[@/]/g, "_")}-${pin.version}`);
const stamp = join(packageDir, ".verified");
const outFile = resolve(process.argv[2] ?? join(packageDir, "closure.txt"));

function fail(message) {
  console.error(`fetch-envoy-api: error: ${message}`);
  process.exit(1);
}

function fetchAndVerify() {
  mkdirSync(cacheDir, { recursive: true });
  const work = join(cacheDir, `tmp-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  console.log(`fetch-envoy-api: fetching ${pin.package}@${pin.version} from the configured npm registry`);
  let tarball;
  try {
    const out = execFileSync("npm", ["pack", `${pin.package}@${pin.version}`, "--pack-destination", work, "--silent"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    tarball = join(work, out.trim().split("\n").pop());
  } catch (e) {
    fail(`'npm pack ${pin.package}@${pin.version}' failed (${e.message}); check that npm is installed and a registry is reachable`);
  }
  const [algorithm, expected] = pin.integrity.split("-", 2);
  const actual = createHash(algorithm).update(readFileSync(tarball)).digest("base64");
  if (actual !== expected) {
    fail(`integrity mismatch for ${pin.package}@${pin.version}: expected ${pin.integrity}, got ${algorithm}-${actual}. ` +
      "The package in the registry is not the one pinned in protos/envoy-api.pin.json; refusing to use it.");
  }
  execFileSync("tar", ["-xzf", tarball, "-C", work], { stdio: "inherit" });
  patchValidateProto(join(work, "package"));
  rmSync(packageDir, { recursive: true, force: true });
  renameSync(join(work, "package"), packageDir);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, `${pin.integrity}\n`);
  console.log(`fetch-envoy-api: verified ${pin.integrity.slice(0, 24)}... and extracted to ${packageDir}`);
}

// The bundled protoc-gen-validate predates StringRules.ignore_empty, which a few Envoy files use
// (for example envoy/config/core/v3/protocol.proto). Upstream defines it as field 26.
function patchValidateProto(root) {
  const file = join(root, "deps/protoc-gen-validate/validate/validate.proto");
  const text = readFileSync(file, "utf8");
  if (/ignore_empty/.test(text.slice(text.indexOf("message StringRules"), text.indexOf("message BytesRules")))) {
    return;
  }
  const marker = "  optional bool strict = 25 [default = true];";
  if (!text.includes(marker)) {
    fail(`cannot patch ${file}: its StringRules no longer look as expected; update patchValidateProto`);
  }
  const patched = text.replace(marker, `${marker}\n\n  // Added at build time: present upstream, missing from the bundled copy.\n  optional bool ignore_empty = 26;`);
  writeFileSync(file, patched);
}

function resolveImport(path) {
  for (const dir of pin.includeDirs) {
    const candidate = join(packageDir, dir, path);
    if (existsSync(candidate)) {
      return { dir: join(packageDir, dir), path };
    }
  }
  return null;
}

function closure() {
  const roots = readFileSync(join(protosDir, "roots.txt"), "utf8")
    .split("\n").map(l => l.trim()).filter(l => l && !l.startsWith("#"))
    .map(l => { const [path, flag] = l.split(/\s+/); return { path, grpc: flag === "grpc" }; });
  const grpcRoots = new Set(roots.filter(r => r.grpc).map(r => r.path));
  const seen = new Map();
  const queue = roots.map(r => r.path);
  while (queue.length > 0) {
    const path = queue.shift();
    if (seen.has(path) || path.startsWith("google/protobuf/")) {
      continue; // well-known types ship with Google.Protobuf
    }
    const found = resolveImport(path);
    if (!found) {
      fail(`import '${path}' not found in ${pin.package}@${pin.version} (include dirs: ${pin.includeDirs.join(", ")})`);
    }
    seen.set(path, found.dir);
    const text = readFileSync(join(found.dir, path), "utf8");
    for (const match of text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) {
      queue.push(match[1]);
    }
  }
  const lines = [...seen.entries()].sort(([a], [b]) => a.localeCompare(b))
    .map(([path, dir]) => `${join(dir, path)};${dir};${grpcRoots.has(path) ? "Both" : "None"}`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, lines.join("\n") + "\n");
  console.log(`fetch-envoy-api: ${lines.length} files in the import closure of ${roots.length} roots`);
}

if (!existsSync(stamp) || readFileSync(stamp, "utf8").trim() !== pin.integrity) {
  fetchAndVerify();
}
closure();
// Only this is read by MSBuild; list the include dirs so every file can import every other.
writeFileSync(outFile.replace(/\.txt$/, ".dirs.txt"), pin.includeDirs.map(d => join(packageDir, d)).join("\n") + "\n");

