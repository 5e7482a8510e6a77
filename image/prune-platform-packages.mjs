// Removes npm packages built for another platform from a node_modules tree.
//
// Why: the host's runner/node_modules is copied into the agent image, and npm
// may have installed optional native packages for other platforms (a musl
// build next to the glibc one, for example). Inside the image only Linux, the
// image's CPU and glibc can run, so anything else is dead weight: the Claude
// Agent SDK's CLI alone is ~400 MB per platform. We read the same `os` / `cpu`
// / `libc` fields npm itself uses to pick optional packages, rather than guess
// from names.
//
//   node image/prune-platform-packages.mjs <staged node_modules> x64
//
// Prints one removed package path per line. It only deletes: the staged tree
// may be hard-linked to the host's, so files are never modified in place.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const [root, cpu] = process.argv.slice(2);
if (!root || !cpu) {
  console.error('usage: prune-platform-packages.mjs <node_modules dir> <npm cpu, e.g. x64>');
  process.exit(2);
}
const target = { os: 'linux', cpu, libc: 'glibc' };

/** npm's rule: an empty or missing list fits all; "!x" excludes x; otherwise the value must be listed. */
function fits(list, value) {
  if (!Array.isArray(list) || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const allowed = list.filter((v) => !v.startsWith('!'));
  return allowed.length === 0 || allowed.includes(value);
}

/** Package folders directly inside a node_modules folder, including scoped ones (@scope/name). */
function* packageDirs(nodeModules) {
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(nodeModules, entry.name);
    if (!entry.name.startsWith('@')) {
      yield dir;
      continue;
    }
    for (const scoped of readdirSync(dir, { withFileTypes: true })) {
      if (scoped.isDirectory()) yield join(dir, scoped.name);
    }
  }
}

function prune(nodeModules) {
  for (const dir of packageDirs(nodeModules)) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue; // not a package (or a broken one): leave it for npm to complain about
    }
    const runsHere =
      fits(manifest.os, target.os) && fits(manifest.cpu, target.cpu) && fits(manifest.libc, target.libc);
    if (!runsHere) {
      rmSync(dir, { recursive: true, force: true });
      console.log(relative(root, dir));
      continue;
    }
    const nested = join(dir, 'node_modules');
    if (existsSync(nested)) prune(nested);
  }
}

prune(root);
