#!/usr/bin/env node
// Builds the dashboard's browser client into dist/dash: type-checks dashboard/src with its own
// tsconfig (the root build does not include it), bundles dashboard/src/main.ts with esbuild into one
// minified file, and copies the page and its static assets. Nothing is fetched at runtime (no CDN):
// the page runs under a CSP that allows only its own origin.
//
//   node scripts/build-dashboard.mjs              # type-check, then bundle
//   node scripts/build-dashboard.mjs --no-check   # bundle only (setup does the check elsewhere)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'dashboard');
const out = join(root, 'dist', 'dash');
const fail = (message) => { console.error(`[dashboard] ${message}`); process.exit(1); };

if (!process.argv.includes('--no-check')) {
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  if (!existsSync(tsc)) fail(`TypeScript is missing (${tsc}); run \`npm ci\` (or scripts/setup.sh) first.`);
  const check = spawnSync(tsc, ['-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
  if (check.error) fail(`could not run tsc: ${check.error.message}`);
  if (check.status !== 0) fail('the dashboard client does not type-check (errors above); fix them, or build with --no-check to bundle anyway.');
}

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (err) {
  fail(`esbuild is missing (${err.code ?? err.message}); it is a pinned devDependency: run \`npm ci\` (or scripts/setup.sh) first.`);
}

mkdirSync(join(out, 'assets'), { recursive: true });
const started = Date.now();
try {
  await esbuild.build({
    entryPoints: [join(src, 'src', 'main.ts')],
    outfile: join(out, 'assets', 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
} catch {
  fail('esbuild could not bundle dashboard/src/main.ts (errors above).');
}
copyFileSync(join(src, 'index.html'), join(out, 'index.html'));
for (const file of ['app.css', 'icon.svg']) copyFileSync(join(src, file), join(out, 'assets', file));

const size = (file) => {
  const bytes = readFileSync(join(out, 'assets', file));
  return `${file} ${(bytes.length / 1024).toFixed(1)} KB (${(gzipSync(bytes).length / 1024).toFixed(1)} KB gzipped)`;
};
console.log(`[dashboard] built dist/dash in ${Date.now() - started} ms: ${size('app.js')}, ${size('app.css')}`);
