/**
 * Extra mounts: what the allowlist file must look like to be trusted, and
 * which requested host paths become mounts. Everything runs against real
 * folders, files and symlinks in a temp dir laid out like a user's machine:
 *
 *   <root>/user          the user's home (with .ssh, .aws, projects ...)
 *   <root>/user/.nanoclaw   NANOCLAW_HOME
 *   <root>/etc-nc/mount-allowlist.json   the allowlist
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  MountAllowlistError, defaultMountAllowlistPath, loadMountAllowlist, resolveExtraMounts,
  type AllowlistEntry, type MountAllowlist, type MountRequest,
} from '../src/sandbox/mount-policy.ts';

let root: string;
let user: string;
let nanoHome: string;
let allowDir: string;
let n = 0;

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'nc-mounts-')));
  user = join(root, 'user');
  nanoHome = join(user, '.nanoclaw');
  allowDir = join(root, 'etc-nc');
  for (const d of [
    'user/projects/app/src', 'user/projects/app-secrets', 'user/projects/foo', 'user/projects/foobar',
    'user/projects/My Project ü', 'user/projects/colon:name', 'user/projects/comma,name', 'user/projects/line\nbreak',
    'user/.ssh/keys', 'user/.aws', 'user/.gnupg', 'user/.kube', 'user/.docker', 'user/.azure', 'user/.config/gcloud', 'user/.config/app',
    'user/.nanoclaw/conversations/c1/workspace', 'user/shared/rw', 'user/shared/rw/readonly-part', 'etc-nc', 'elsewhere',
  ]) mkdirSync(join(root, d), { recursive: true });
  for (const f of ['user/projects/app/.env', 'user/projects/app/.env.local', 'user/projects/app/id_rsa.pub', 'user/projects/app/server.pem',
    'user/projects/app/tls.key', 'user/projects/app/cert.p12', 'user/projects/app/cert.pfx', 'user/projects/app/credentials.json',
    'user/projects/app/docker.sock', 'user/projects/app/README.md', 'user/.netrc', 'user/.npmrc', 'user/.pypirc', 'user/.ssh/id_ed25519']) {
    writeFileSync(join(root, f), 'x');
  }
  symlinkSync(join(user, '.ssh'), join(user, 'projects', 'innocent-link'));
  symlinkSync(join(root, 'elsewhere'), join(user, 'projects', 'escape-link'));
  symlinkSync(join(user, 'projects'), join(root, 'projects-link'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** An allowlist held in memory, as loadMountAllowlist returns it. */
const allow = (...entries: Array<Partial<AllowlistEntry> & { path: string }>): MountAllowlist =>
  ({ file: join(allowDir, 'mount-allowlist.json'), entries: entries.map((e) => ({ readOnly: true, ...e })) });
const resolveAll = (requested: MountRequest[], list: MountAllowlist) => resolveExtraMounts(requested, list, { home: nanoHome, userHome: user });
/** The single rejection reason for one request, failing the test if it was mounted. */
const rejection = (req: MountRequest, list: MountAllowlist): string => {
  const out = resolveAll([req], list);
  assert.equal(out.mounts.length, 0, `${req.hostPath} was mounted: ${JSON.stringify(out.mounts)}`);
  assert.equal(out.rejected.length, 1);
  assert.equal(out.rejected[0].hostPath, req.hostPath);
  return out.rejected[0].reason;
};

describe('loadMountAllowlist', () => {
  /** Writes an allowlist file (mode 0600) in a fresh folder outside NANOCLAW_HOME and returns its path. */
  const file = (content: unknown) => {
    const dir = join(root, `allow-${++n}`);
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'mount-allowlist.json');
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
    return path;
  };
  const loadError = (path: string): string => {
    try {
      loadMountAllowlist(path, nanoHome);
    } catch (err) {
      assert.ok(err instanceof MountAllowlistError, `expected a MountAllowlistError, got ${err}`);
      assert.ok(err.message.includes(path), `the message names the file: ${err.message}`);
      return err.message;
    }
    assert.fail('the allowlist was accepted');
  };

  it('treats a missing file as an empty allowlist', () => {
    assert.deepEqual(loadMountAllowlist(join(root, 'no-such-dir', 'mount-allowlist.json'), nanoHome).entries, []);
  });

  it('reads entries, with readOnly defaulting to true', () => {
    const path = file({ allow: [{ path: '/srv/a', description: 'code' }, { path: '/srv/b', readOnly: false }] });
    assert.deepEqual(loadMountAllowlist(path, nanoHome), {
      file: path,
      entries: [{ path: '/srv/a', readOnly: true, description: 'code' }, { path: '/srv/b', readOnly: false }],
    });
  });

  it('rejects invalid JSON, naming the file and the problem', () => {
    assert.match(loadError(file('{"allow": [')), /is not valid JSON/);
  });

  it('rejects a wrong shape, naming the field', () => {
    assert.match(loadError(file({ allow: { path: '/srv' } })), /allow: .*expected array/);
    assert.match(loadError(file({ allow: [{ path: '/srv', readOnly: 'no' }] })), /allow\.0\.readOnly: .*expected boolean/);
    assert.match(loadError(file({ allow: [{ path: '/srv', readonly: false }] })), /allow\.0.*readonly/);
    assert.match(loadError(file({})), /allow: /);
  });

  it('rejects entries with relative paths, ".." segments or control characters', () => {
    assert.match(loadError(file({ allow: [{ path: 'projects' }] })), /allow\.0\.path "projects" is not an absolute path/);
    assert.match(loadError(file({ allow: [{ path: '/srv/../etc' }] })), /allow\.0\.path .*"\.\." segment/);
    assert.match(loadError(file({ allow: [{ path: '/srv/a\nb' }] })), /allow\.0\.path "\/srv\/a\\nb" contains a control character/);
  });

  it('refuses an allowlist inside NANOCLAW_HOME, because a container could widen its own mounts', () => {
    const path = join(nanoHome, 'mount-allowlist.json');
    writeFileSync(path, '{"allow": []}', { mode: 0o600 });
    assert.match(loadError(path), /inside NANOCLAW_HOME.*widen its own mounts/);
  });

  it('refuses a symlink outside NANOCLAW_HOME that points to an allowlist inside it', () => {
    const inside = join(nanoHome, 'conversations', 'c1', 'workspace', 'allow.json');
    writeFileSync(inside, '{"allow": []}', { mode: 0o600 });
    const dir = join(root, `allow-${++n}`);
    mkdirSync(dir, { mode: 0o700 });
    symlinkSync(inside, join(dir, 'mount-allowlist.json'));
    assert.match(loadError(join(dir, 'mount-allowlist.json')), /inside NANOCLAW_HOME/);
  });

  it('refuses a file that its group or other users can write', () => {
    const groupWritable = file({ allow: [] });
    chmodSync(groupWritable, 0o620);
    assert.match(loadError(groupWritable), /writable by its group .*mode 0620.*widen its own mounts.*chmod go-w/);
    const worldWritable = file({ allow: [] });
    chmodSync(worldWritable, 0o646);
    assert.match(loadError(worldWritable), /writable by other users/);
  });

  it('refuses a file in a folder other users can write, since they could replace it', () => {
    const path = file({ allow: [] });
    chmodSync(dirname(path), 0o777);
    assert.match(loadError(path), /folder of the mount allowlist.*writable by its group and other users.*replace the file/);
    // A sticky folder (like /tmp) does not let others replace a file they do not own.
    chmodSync(dirname(path), 0o1777);
    assert.deepEqual(loadMountAllowlist(path, nanoHome).entries, []);
  });

  it('refuses a file owned by another user', { skip: process.getuid?.() !== 0 && 'needs root to chown' }, () => {
    const path = file({ allow: [] });
    chownSync(path, 4242, 4242);
    assert.match(loadError(path), /belongs to uid 4242/);
  });

  it('is found at $NANOCLAW_MOUNT_ALLOWLIST, else ~/.config/nanoclaw/mount-allowlist.json', () => {
    assert.equal(defaultMountAllowlistPath({ NANOCLAW_MOUNT_ALLOWLIST: '/opt/nc/allow.json' }), '/opt/nc/allow.json');
    assert.equal(defaultMountAllowlistPath({}), join(homedir(), '.config', 'nanoclaw', 'mount-allowlist.json'));
    assert.throws(() => defaultMountAllowlistPath({ NANOCLAW_MOUNT_ALLOWLIST: 'allow.json' }), /must be an absolute path/);
  });
});

describe('resolveExtraMounts', () => {
  it('mounts an allowlisted folder read-only at /mnt/<name>', () => {
    const out = resolveAll([{ hostPath: join(user, 'projects') }], allow({ path: join(user, 'projects') }));
    assert.deepEqual(out, { mounts: [{ hostPath: join(user, 'projects'), containerPath: '/mnt/projects', readOnly: true }], rejected: [], downgraded: [] });
  });

  it('mounts a folder inside an allowlisted one, but not a sibling that shares its name prefix', () => {
    const list = allow({ path: join(user, 'projects', 'foo') });
    assert.equal(resolveAll([{ hostPath: join(user, 'projects', 'foo') }], list).mounts.length, 1);
    assert.match(rejection({ hostPath: join(user, 'projects', 'foobar') }, list), /is not inside any folder listed in .*mount-allowlist\.json; add it/);
    const parent = allow({ path: join(user, 'projects') });
    assert.equal(resolveAll([{ hostPath: join(user, 'projects', 'app', 'src') }], parent).mounts[0].containerPath, '/mnt/src');
  });

  it('with no allowlist entries, rejects every request and says where to add one', () => {
    assert.match(rejection({ hostPath: join(user, 'projects') }, allow()), /no folder is allowlisted.*mount-allowlist\.json.*"path"/);
  });

  it('resolves symlinks before checking: a link inside an allowlisted folder to a folder outside is rejected', () => {
    const reason = rejection({ hostPath: join(user, 'projects', 'escape-link') }, allow({ path: join(user, 'projects') }));
    assert.match(reason, /resolves to .*elsewhere.*is not inside any folder listed/);
  });

  it('resolves symlinks in allowlist entries and mounts the real path', () => {
    const out = resolveAll([{ hostPath: join(user, 'projects', 'app') }], allow({ path: join(root, 'projects-link') }));
    assert.deepEqual(out.mounts, [{ hostPath: join(user, 'projects', 'app'), containerPath: '/mnt/app', readOnly: true }]);
    const viaLink = resolveAll([{ hostPath: join(root, 'projects-link', 'app') }], allow({ path: join(user, 'projects') }));
    assert.equal(viaLink.mounts[0].hostPath, join(user, 'projects', 'app'));
  });

  it('rejects relative paths, "..", control characters, ":" and "," with what to do', () => {
    const list = allow({ path: root });
    assert.match(rejection({ hostPath: 'projects' }, list), /not an absolute path; give the full path/);
    assert.match(rejection({ hostPath: '~/projects' }, list), /~ is not expanded/);
    assert.match(rejection({ hostPath: `${user}/projects/app/../../.ssh` }, list), /has a "\.\." segment/);
    assert.match(rejection({ hostPath: `${user}/projects/a\0b` }, list), /contains a control character/);
    assert.match(rejection({ hostPath: `${user}/projects/line\nbreak` }, list), /line\\nbreak" contains a control character.*rename the folder/);
    assert.match(rejection({ hostPath: `${user}/projects/colon:name` }, list), /contains ":" or ","/);
    assert.match(rejection({ hostPath: `${user}/projects/comma,name` }, list), /contains ":" or ","/);
    assert.match(rejection({ hostPath: '' }, list), /must be a non-empty absolute path/);
  });

  it('rejects a path that does not exist', () => {
    assert.match(rejection({ hostPath: join(user, 'projects', 'nope') }, allow({ path: user })), /does not exist on this host; create it or fix the path/);
  });

  it('never mounts secrets, even when their folder is allowlisted', () => {
    const list = allow({ path: root });
    const cases: Array<[string, RegExp]> = [
      ['.ssh', /"\.ssh" \(SSH keys\).*never mounted, even when allowlisted/], ['.ssh/keys', /"\.ssh"/], ['.aws', /AWS/], ['.gnupg', /GnuPG/],
      ['.kube', /Kubernetes/], ['.docker', /Docker registry/], ['.azure', /Azure/], ['.config/gcloud', /Google Cloud/],
      ['.netrc', /credentials file/], ['.npmrc', /credentials file/], ['.pypirc', /credentials file/], ['.ssh/id_ed25519', /SSH/],
      ['projects/app/.env', /environment file/], ['projects/app/.env.local', /environment file/], ['projects/app/id_rsa.pub', /SSH private key/],
      ['projects/app/server.pem', /key or certificate/], ['projects/app/tls.key', /key or certificate/], ['projects/app/cert.p12', /key or certificate/],
      ['projects/app/cert.pfx', /key or certificate/], ['projects/app/credentials.json', /credentials file/], ['projects/app/docker.sock', /Docker socket/],
    ];
    for (const [rel, why] of cases) assert.match(rejection({ hostPath: join(user, rel) }, list), why, rel);
  });

  it('never mounts a secret reached through an innocent-looking symlink', () => {
    assert.match(rejection({ hostPath: join(user, 'projects', 'innocent-link') }, allow({ path: root })), /resolves to .*\.ssh.*SSH keys/);
  });

  it('mounts a project that contains a .env file: only the path itself is checked, not its contents', () => {
    // projects/app holds .env, .env.local, server.pem ... at its top level.
    const out = resolveAll([{ hostPath: join(user, 'projects', 'app') }, { hostPath: join(user, '.config', 'app'), containerPath: '/mnt/app-config' }], allow({ path: root }));
    assert.deepEqual(out.rejected, []);
    assert.deepEqual(out.mounts.map((m) => m.hostPath), [join(user, 'projects', 'app'), join(user, '.config', 'app')]);
  });

  it('never mounts system folders, the Docker socket or the root, even with "/" allowlisted', () => {
    const everything = allow({ path: '/' });
    for (const [path, why] of [['/etc', /system folder \/etc/], ['/proc/self', /system folder \/proc/], ['/sys', /\/sys/], ['/dev', /\/dev/], ['/run', /\/run/], ['/', /system folder/]] as const) {
      assert.match(rejection({ hostPath: path }, everything), why, path);
    }
    for (const sock of ['/var/run/docker.sock', '/run/docker.sock']) {
      try { realpathSync(sock); } catch { continue; }
      assert.match(rejection({ hostPath: sock }, everything), /Docker socket|system folder \/(var\/)?run/);
    }
  });

  it('never mounts the user\'s home itself or a folder containing it', () => {
    const list = allow({ path: '/' });
    assert.match(rejection({ hostPath: user }, list), /is your home folder .* or contains it.*Mount a project folder inside it/);
    assert.match(rejection({ hostPath: root }, list), /your home folder/);
  });

  const otherHome = ['/home', '/Users'].flatMap((d) => { try { return readdirSync(d).map((u) => join(d, u)); } catch { return []; } })[0];
  it('never mounts another user\'s home folder (the gateway may run as root), nor /home itself', { skip: !otherHome && 'no folder in /home or /Users on this machine' }, () => {
    const list = allow({ path: '/' });
    assert.match(rejection({ hostPath: otherHome! }, list), /is a user's home folder.*Mount a project folder inside it/);
    assert.match(rejection({ hostPath: dirname(otherHome!) }, list), /system folder that holds other users' files/);
  });

  it('never mounts NANOCLAW_HOME, anything inside it, or anything containing it', () => {
    const list = allow({ path: root });
    assert.match(rejection({ hostPath: nanoHome }, list), /NanoClaw's home/);
    assert.match(rejection({ hostPath: join(nanoHome, 'conversations', 'c1', 'workspace') }, list), /NanoClaw's home/);
    const nested = resolveExtraMounts([{ hostPath: join(user, 'projects') }], list, { home: join(user, 'projects', 'foo'), userHome: user });
    assert.match(nested.rejected[0]?.reason ?? '', /contains or lies inside NanoClaw's home/);
  });

  it('never mounts the allowlist\'s folder or a folder containing it', () => {
    const list = allow({ path: root });
    assert.match(rejection({ hostPath: allowDir }, list), /folder of the mount allowlist.*widen its own mounts/);
    const nested = { ...list, file: join(user, 'projects', 'app', 'allow.json') };
    assert.match(rejection({ hostPath: join(user, 'projects') }, nested), /folder of the mount allowlist/);
  });

  it('mounts read-write only when both the request and the allowlist entry allow it', () => {
    const rw = allow({ path: join(user, 'shared'), readOnly: false });
    const ro = allow({ path: join(user, 'shared') });
    const p = join(user, 'shared', 'rw');
    assert.equal(resolveAll([{ hostPath: p, readOnly: false }], rw).mounts[0].readOnly, false);
    assert.equal(resolveAll([{ hostPath: p }], rw).mounts[0].readOnly, true);
    assert.equal(resolveAll([{ hostPath: p, readOnly: true }], rw).mounts[0].readOnly, true);
    const downgraded = resolveAll([{ hostPath: p, readOnly: false }], ro);
    assert.equal(downgraded.mounts[0].readOnly, true);
    assert.match(downgraded.downgraded[0].reason, /read-only: its entry in .*does not say "readOnly": false/);
  });

  it('lets a read-only entry for a subfolder narrow a read-write parent entry', () => {
    const list = allow({ path: join(user, 'shared'), readOnly: false }, { path: join(user, 'shared', 'rw', 'readonly-part'), readOnly: true });
    assert.equal(resolveAll([{ hostPath: join(user, 'shared', 'rw'), readOnly: false }], list).mounts[0].readOnly, false);
    assert.equal(resolveAll([{ hostPath: join(user, 'shared', 'rw', 'readonly-part'), readOnly: false }], list).mounts[0].readOnly, true);
  });

  it('mounts read-only when two entries name the same folder and one of them is read-only', () => {
    const list = allow({ path: join(user, 'projects'), readOnly: false }, { path: join(root, 'projects-link'), readOnly: true });
    assert.equal(resolveAll([{ hostPath: join(user, 'projects', 'app'), readOnly: false }], list).mounts[0].readOnly, true);
  });

  it('derives a safe default container path from the folder name', () => {
    const out = resolveAll([{ hostPath: join(user, 'projects', 'My Project ü') + '/' }], allow({ path: root }));
    assert.equal(out.mounts[0].containerPath, '/mnt/My_Project__');
  });

  it('accepts a container path under /mnt/ and rejects one elsewhere, with "..", or shadowing NanoClaw\'s own', () => {
    const list = allow({ path: root });
    const src = join(user, 'projects', 'app');
    assert.equal(resolveAll([{ hostPath: src, containerPath: '/mnt/code/app/' }], list).mounts[0].containerPath, '/mnt/code/app');
    assert.match(rejection({ hostPath: src, containerPath: 'mnt/app' }, list), /is not absolute/);
    assert.match(rejection({ hostPath: src, containerPath: '/opt/app' }, list), /is not under \/mnt\//);
    assert.match(rejection({ hostPath: src, containerPath: '/mnt' }, list), /is not under \/mnt\//);
    assert.match(rejection({ hostPath: src, containerPath: '/mnt/../workspace' }, list), /"\.\." segment/);
    for (const reserved of ['/workspace', '/memory', '/global', '/run/nanoclaw', '/home/agent', '/home/agent/.claude', '/run']) {
      assert.match(rejection({ hostPath: src, containerPath: reserved }, list), /would shadow .*NanoClaw mounts itself/, reserved);
    }
    assert.match(rejection({ hostPath: src, containerPath: '/mnt/a:rw' }, list), /":"/);
  });

  it('rejects a second mount at the same container path and keeps the first', () => {
    const out = resolveAll([{ hostPath: join(user, 'projects', 'app') }, { hostPath: join(user, '.config', 'app') }], allow({ path: root }));
    assert.deepEqual(out.mounts.map((m) => m.hostPath), [join(user, 'projects', 'app')]);
    assert.match(out.rejected[0].reason, /container path \/mnt\/app is already used by .*set a different "containerPath"/);
  });

  it('handles each request on its own: one bad entry does not stop the good ones', () => {
    const out = resolveAll([{ hostPath: join(user, '.ssh') }, { hostPath: join(user, 'projects', 'foo') }, { hostPath: 'rel' }], allow({ path: root }));
    assert.deepEqual(out.mounts.map((m) => m.containerPath), ['/mnt/foo']);
    assert.deepEqual(out.rejected.map((r) => r.hostPath), [join(user, '.ssh'), 'rel']);
  });
});
