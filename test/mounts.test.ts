import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { startHarness, type Harness } from './support/harness.ts';

describe('extra mounts: only through the allowlist kept outside NANOCLAW_HOME', () => {
  let h: Harness;
  let outside: string;
  const saved = process.env.NANOCLAW_MOUNT_ALLOWLIST;
  before(async () => {
    outside = mkdtempSync(join(tmpdir(), 'ncm-'));
    const projects = join(outside, 'projects');
    mkdirSync(join(projects, 'app'), { recursive: true });
    writeFileSync(join(projects, 'app', 'README'), 'shared project file');
    mkdirSync(join(projects, '.ssh'));
    writeFileSync(join(projects, '.ssh', 'id_ed25519'), 'PRIVATE KEY');
    mkdirSync(join(outside, 'unlisted'));
    // The allowlist's own folder is never mountable: keep it apart from what it lists.
    mkdirSync(join(outside, 'config'));
    writeFileSync(join(outside, 'config', 'allow.json'), JSON.stringify({ allow: [{ path: projects, readOnly: false }] }), { mode: 0o600 });
    process.env.NANOCLAW_MOUNT_ALLOWLIST = join(outside, 'config', 'allow.json');
    h = await startHarness({
      config: { container: { extraMounts: [join(projects, 'app'), join(projects, '.ssh'), join(outside, 'unlisted')] } },
    });
  });
  after(async () => {
    await h?.close();
    if (saved === undefined) delete process.env.NANOCLAW_MOUNT_ALLOWLIST; else process.env.NANOCLAW_MOUNT_ALLOWLIST = saved;
    rmSync(outside, { recursive: true, force: true });
  });

  it('mounts an allowlisted folder read-only under /mnt, and nothing else', async () => {
    const reply = await h.ask('mounts', 'run: cat /mnt/app/README; touch /mnt/app/x 2>&1 | grep -o "Read-only file system"; ls /mnt');
    assert.match(reply, /shared project file/);
    assert.match(reply, /Read-only file system/, 'read-only: the strict profile and the request both say so');
    assert.doesNotMatch(reply, /^\.ssh$|^unlisted$/m);
  });

  it('refuses sensitive and unlisted folders, and audits why', () => {
    const rejected = readAuditLog(auditLogPath(h.home), { type: 'mount.rejected' }).map((r) => r.data as any);
    assert.ok(rejected.some((d) => String(d.hostPath).endsWith('.ssh')), JSON.stringify(rejected));
    assert.ok(rejected.some((d) => String(d.hostPath).endsWith('unlisted')), JSON.stringify(rejected));
    const created = readAuditLog(auditLogPath(h.home), { type: 'container.created' }).map((r) => r.data as any);
    assert.ok(created.some((d) => d.mounts.some((m: string) => m.endsWith(':/mnt/app:ro'))));
  });
});
