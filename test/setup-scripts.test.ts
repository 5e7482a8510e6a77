import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandsRun, simpleCommands } from './support/shell-commands.ts';

/**
 * Set-up on a fresh machine: every command the set-up scripts run must be there or be
 * installed first. The quick start once died halfway with "debootstrap is missing" because
 * nothing installed it. These tests read the scripts, find each command they call, and
 * accept it only if it is a shell builtin, a function of the scripts, one of the tools these
 * machines are given (Node, npm, git, Python), in a package Debian always installs
 * (Essential or Priority required), or named in a `need_command` call
 * (scripts/system-packages.sh), which installs it or stops saying what to install.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GIVEN = new Set(['node', 'npm', 'npx', 'git', 'python3']);
const dpkgHere = spawnSync('dpkg-query', ['--version']).status === 0;

/** The set-up scripts: scripts/*.sh, image/*.sh and .ci/run. */
function setupScripts(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of ['scripts', 'image']) {
    for (const name of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.sh')).sort()) {
      files.set(`${dir}/${name}`, readFileSync(join(ROOT, dir, name), 'utf8'));
    }
  }
  files.set('.ci/run', readFileSync(join(ROOT, '.ci/run'), 'utf8'));
  return files;
}

const FUNCTION_DEF = /^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*\(\)\s*\{?/gm;

/** Every command the scripts call by a fixed name, with the scripts that call it. */
function commandsCalled(scripts: Map<string, string>): { called: Map<string, string[]>; functions: Set<string>; needed: Set<string> } {
  const called = new Map<string, string[]>();
  const functions = new Set<string>();
  const needed = new Set<string>();
  for (const [file, src] of scripts) {
    for (const m of src.matchAll(FUNCTION_DEF)) functions.add(m[1]);
    for (const words of simpleCommands(src)) {
      if (words[0] === 'need_command' && words[1]) needed.add(words[1]);
      for (const cmd of commandsRun(words)) {
        if (cmd.includes('$')) continue; // a command chosen at run time ("$NODE_BIN", "$@")
        const name = cmd.replace(/^.*\//, '');
        called.set(name, [...new Set([...(called.get(name) ?? []), file])]);
      }
    }
  }
  return { called, functions, needed };
}

const bashBuiltins = new Set(execFileSync('bash', ['-c', 'compgen -b; compgen -k'], { encoding: 'utf8' }).split('\n').filter(Boolean));

/**
 * For each command, the Debian package that ships it on this machine, if one does, and whether
 * Debian installs that package everywhere (Essential, or Priority required). One dpkg call
 * for all: alternatives (awk -> mawk) and the /bin -> /usr/bin merge are resolved first.
 */
function packagesOf(cmds: string[]): Map<string, { pkg: string; always: boolean }> {
  const pathsOf = new Map<string, string[]>();
  for (const cmd of cmds) {
    const paths = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, cmd)).filter((p) => existsSync(p));
    pathsOf.set(cmd, [...new Set(paths.flatMap((p) => [p, realpathSync(p)]))]);
  }
  const owner = new Map<string, string>();
  const all = [...pathsOf.values()].flat();
  if (all.length) {
    const listing = spawnSync('dpkg', ['-S', ...all], { encoding: 'utf8' }).stdout;
    for (const line of listing.split('\n')) {
      const m = /^([^:\s,]+)(?::[^:\s,]+)?(?:, [^:]+)?: (\/.*)$/.exec(line);
      if (m && !line.startsWith('diversion')) owner.set(m[2], m[1]);
    }
  }
  const pkgs = [...new Set(owner.values())];
  const always = new Set(pkgs.length === 0 ? [] : execFileSync('dpkg-query', ['-W', '-f', '${Package} ${Essential} ${Priority}\n', ...pkgs], { encoding: 'utf8' })
    .split('\n').filter((l) => / yes /.test(l) || / required$/.test(l)).map((l) => l.split(' ')[0]));
  const found = new Map<string, { pkg: string; always: boolean }>();
  for (const [cmd, paths] of pathsOf) {
    const pkg = paths.map((p) => owner.get(p)).find(Boolean);
    if (pkg) found.set(cmd, { pkg, always: always.has(pkg) });
  }
  return found;
}

/** Commands the scripts call that a fresh Debian machine may lack and nothing installs or checks. */
function unprovided(scripts: Map<string, string>): string[] {
  const { called, functions, needed } = commandsCalled(scripts);
  const open = [...called].filter(([cmd]) => !bashBuiltins.has(cmd) && !functions.has(cmd) && !GIVEN.has(cmd) && !needed.has(cmd)).sort();
  const packages = packagesOf(open.map(([cmd]) => cmd));
  const missing: string[] = [];
  for (const [cmd, files] of open) {
    const found = packages.get(cmd);
    if (found?.always) continue;
    missing.push(`${cmd} (${found ? `package ${found.pkg} is not in Debian's required set` : 'no installed package has it'}; called in ${files.join(', ')})`);
  }
  return missing;
}

describe('set-up scripts on a fresh machine', () => {
  it('finds the commands a script runs, and only those', () => {
    const src = [
      '#!/usr/bin/env bash',
      'say() { printf "%s\\n" "$*" >&2; }   # a comment naming rm',
      'x="$(id -u)"; [ -f a ] && tar -xzf a -C b || die "run: apt-get install foo"',
      'find . -print0 | sort -z | xargs -0 -r sha256sum 2>/dev/null',
      'setsid nohup dockerd >>/var/log/d.log 2>&1 </dev/null &',
      'logged "$log" debootstrap --variant=minbase bookworm /tmp/r',
      "chroot \"$r\" sh -c 'apt-get update && apt-get -y upgrade'",
      'awk \'$1 == "deb" { print $2 }\' "$f"',
      'cat > f <<JSON',
      '{ "runtimes": { "pgrep": {} } }',
      'JSON',
      'case "$arg" in',
      '  --online) MODE=online ;;',
      '  *) usage ;;',
      'esac',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y podman',
      'if ! command -v flock >/dev/null; then (cd d && npm ci); fi',
      'while read -r m; do umount -l "$m"; done < <(grep -o x /proc/mounts)',
      'for f in a b c; do :; done',
      '"$NODE_BIN" -v; exec "$@"',
    ].join('\n');
    const run = simpleCommands(src).flatMap(commandsRun).filter((c) => !c.includes('$'));
    assert.deepEqual(run, ['say', 'printf', 'id', '[', 'tar', 'die', 'find', 'sort', 'xargs', 'sha256sum', 'setsid', 'nohup', 'dockerd',
      'logged', 'debootstrap', 'chroot', 'awk', 'cat', 'usage', 'apt-get', 'cd', 'npm', 'read', 'umount', 'grep', ':', 'exec']);
  });

  it('catches a script that calls debootstrap with nothing installing it, and accepts it once need_command names it', { skip: !dpkgHere && 'needs dpkg (Debian)' }, () => {
    const build = 'logged() { "${@:2}" >"$1" 2>&1; }\nbuild_base() {\n  logged "$log" debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR"\n}\n';
    const helper = readFileSync(join(ROOT, 'scripts/system-packages.sh'), 'utf8');
    const missing = unprovided(new Map([['image/build.sh', build], ['scripts/system-packages.sh', helper]]));
    assert.equal(missing.length, 1, missing.join('\n'));
    assert.match(missing[0], /^debootstrap \(package debootstrap is not in Debian's required set; called in image\/build\.sh\)$/);
    const fixed = build.replace('{\n', '{\n  need_command debootstrap debootstrap\n');
    assert.deepEqual(unprovided(new Map([['image/build.sh', fixed], ['scripts/system-packages.sh', helper]])), []);
  });

  it('every command the set-up scripts call is a builtin, their own, given, always installed, or installed by need_command', { skip: !dpkgHere && 'needs dpkg (Debian)' }, () => {
    const missing = unprovided(setupScripts());
    assert.deepEqual(missing, [], `install or check these with need_command (scripts/system-packages.sh):\n${missing.join('\n')}`);
  });

  it('need_command stops where it cannot install, naming the package and what to run', () => {
    // As a user who is not root, so it may not install anything (setpriv drops root, when we have it).
    const script = `${readFileSync(join(ROOT, 'scripts/system-packages.sh'), 'utf8')}\nneed_command nanoclaw-no-such-command nanoclaw-pkg; echo "after=$?"`;
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'bash', '-c', script] : ['bash', '-c', script];
    const r = spawnSync(asUser[0], asUser.slice(1), { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'after=1');
    assert.match(r.stderr, /nanoclaw-no-such-command is missing: it comes with the Debian package nanoclaw-pkg\. Install it \(on Debian or Ubuntu, as root: apt-get install --no-install-recommends nanoclaw-pkg\) and run again\./);
  });

  // Needs Debian 13's runsc in place already (set-up installs it as root), so nothing is downloaded here.
  const runscCurrent = spawnSync('/usr/local/bin/runsc', ['--version'], { encoding: 'utf8' }).stdout?.match(/^runsc version 0\.0~(\d{8})/)?.[1];
  const gvisorSkip = !(dpkgHere && runscCurrent && runscCurrent >= '20240729') && 'needs Debian 13\'s runsc in /usr/local/bin (scripts/gvisor.sh as root)';

  it('gvisor.sh points a daemon.json that names Debian 12\'s runsc at the new one, with its two flags, keeping the other keys', { skip: gvisorSkip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-gvisor-'));
    try {
      const file = join(dir, 'daemon.json');
      writeFileSync(file, JSON.stringify({ 'log-level': 'warn', runtimes: { runsc: { path: '/usr/bin/runsc' }, kata: { path: '/opt/kata' } } }));
      const r = spawnSync('bash', [join(ROOT, 'scripts/gvisor.sh')], { encoding: 'utf8', env: { ...process.env, NANOCLAW_DOCKER_DAEMON_JSON: file } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '/usr/local/bin/runsc\n');
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
        'log-level': 'warn',
        runtimes: { runsc: { path: '/usr/local/bin/runsc', runtimeArgs: ['--network=none', '--host-uds=open'] }, kata: { path: '/opt/kata' } },
      });
      // Run again: already right, so the file is left as it is.
      const before = readFileSync(file, 'utf8');
      assert.equal(spawnSync('bash', [join(ROOT, 'scripts/gvisor.sh')], { env: { ...process.env, NANOCLAW_DOCKER_DAEMON_JSON: file } }).status, 0);
      assert.equal(readFileSync(file, 'utf8'), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gvisor.sh refuses to overwrite a daemon.json it cannot read, and says so', { skip: gvisorSkip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'nanoclaw-gvisor-'));
    try {
      const file = join(dir, 'daemon.json');
      writeFileSync(file, '{ "runtimes": ');
      const r = spawnSync('bash', [join(ROOT, 'scripts/gvisor.sh')], { encoding: 'utf8', env: { ...process.env, NANOCLAW_DOCKER_DAEMON_JSON: file } });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /daemon\.json could not be read as JSON \(.+\); fix it, then run again/);
      assert.equal(readFileSync(file, 'utf8'), '{ "runtimes": ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('need_command does nothing for a command that is there', () => {
    const r = spawnSync('bash', ['-c', `source ${join(ROOT, 'scripts/system-packages.sh')}; need_command sh nanoclaw-pkg; echo "after=$?"`], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'after=0');
    assert.equal(r.stderr, '');
  });
});
