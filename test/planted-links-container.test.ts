/**
 * An agent in a real container plants symlinks (to a host folder it names by
 * its host path, and dangling ones), FIFOs and huge files in its workspace
 * and memory, through its Bash tool as the stand-in model scripts it. The
 * gateway runs as root, as it does in production here, and each host-side
 * operation on those trees runs after the plant: storing an attachment,
 * launching a resumed conversation, committing memory, deleting the
 * workspace. The host folder is stat-ed before and after: owner, mode and
 * contents must not change; the refusal is told and audited; the
 * conversation keeps answering. planted-links.test.ts covers the same
 * functions without containers.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { AGENT_UID } from '../src/sandbox/profile.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { apiConversationId } from './support/turns.ts';
import { hostFolder } from './support/host-folder.ts';

describe('planted links in real containers', () => {
  let h: Harness;
  const hostRoot = mkdtempSync(join(tmpdir(), 'nct-host-'));

  before(async () => { h = await startHarness(); });
  after(async () => { await h?.close(); rmSync(hostRoot, { recursive: true, force: true }); });


  const run = async (chat: string, cmd: string) => h.ask(chat, `run: ${cmd}`);
  const withFile = async (chat: string, text: string) => {
    const res = await h.api(`/api/v1/conversations/${chat}/messages`, {
      method: 'POST',
      body: JSON.stringify({ text, attachments: [{ name: 'cron', data: Buffer.from('* * * * * root evil').toString('base64') }] }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as any).replies.map((r: any) => r.text).join('\n') as string;
  };
  const audited = (type: string, chat: string) => readAuditLog(auditLogPath(h.home), { type }).filter((r) => r.conversation === apiConversationId(chat));

  it('refuses attachments into an inbox replaced by a link to a host folder or a dangling link, and saves them again once it is removed', async () => {
    const chat = 'plant-inbox';
    const host = hostFolder(hostRoot);
    assert.match(await run(chat, `rm -rf /workspace/inbox && ln -s ${host.dir} /workspace/inbox && echo planted`), /planted/);
    const refused = await withFile(chat, 'what arrived?');
    assert.match(refused, /Echo: what arrived\?/);
    assert.match(refused, /An attachment could not be saved: the inbox is not a real folder: \/workspace\/inbox is a symlink/);
    assert.deepEqual(host.snap(), host.before);

    assert.match(await run(chat, 'rm /workspace/inbox && ln -s /nowhere/at/all /workspace/inbox && echo dangling'), /dangling/);
    assert.match(await withFile(chat, 'and now?'), /could not be saved: the inbox is not a real folder/);
    assert.equal(audited('attachment.refused', chat).length, 2);

    assert.match(await run(chat, 'rm /workspace/inbox && echo removed'), /removed/);
    const saved = await withFile(chat, 'run: stat -c "%u %F %n" /workspace/inbox /workspace/inbox/cron');
    assert.match(saved, new RegExp(`^${AGENT_UID} directory /workspace/inbox$`, 'm'), 'the new inbox belongs to the agent');
    assert.match(saved, /^\d+ regular file \/workspace\/inbox\/cron$/m);
    assert.deepEqual(host.snap(), host.before);
  });

  it('launches a resumed conversation whose inbox is a planted link without re-owning the host folder', async () => {
    const chat = 'plant-resume';
    const host = hostFolder(hostRoot);
    // With memory on, /end keeps the workspace: the next message launches a new container on it.
    assert.match(await h.ask(chat, '/memory on'), /memory is on/i);
    assert.match(await run(chat, `rm -rf /workspace/inbox && ln -s ${host.dir} /workspace/inbox && echo planted`), /planted/);
    await h.ask(chat, '/end');
    const reply = await withFile(chat, 'back again');
    assert.match(reply, /Echo: back again/);
    assert.match(reply, /could not be saved: the inbox is not a real folder/);
    assert.match(String(audited('workspace.unsafe_inbox', chat)[0]?.data?.error), /inbox is a symlink; it is never followed/);
    assert.deepEqual(host.snap(), host.before);
  });

  it('refuses to commit memory holding a FIFO or a huge file, keeps a planted link as a link, and commits again once fixed', async () => {
    const chat = 'plant-memory';
    const host = hostFolder(hostRoot);
    assert.match(await h.ask(chat, '/memory on'), /memory is on/i);
    const fifoTurn = await run(chat, `ln -s ${host.dir} /memory/host && mkfifo /memory/.gitattributes && echo fifo`);
    assert.match(fifoTurn, /fifo/);
    assert.match(fifoTurn, /changes to \/memory were not recorded: .*\.gitattributes is a FIFO/, 'the user is told');
    assert.match(await run(chat, 'rm /memory/.gitattributes && head -c 11000000 /dev/zero > /memory/big && echo big'), /big/);
    const refusals = audited('memory.commit_refused', chat).map((r) => String(r.data?.error));
    assert.match(refusals[0], /\/memory\/\.gitattributes is a FIFO/);
    assert.match(refusals[1], /\/memory\/big is 11000000 bytes, over the 10485760-byte limit/);
    assert.match(await run(chat, 'rm /memory/big && echo tidy'), /tidy/);
    const commits = audited('memory.commit', chat);
    assert.ok((commits.at(-1)?.data?.files as string[]).includes('host'), 'the link was committed once the tree was fine');
    assert.deepEqual(host.snap(), host.before);
  });

  it('deletes a workspace full of planted links and FIFOs on /end without touching the host folders they name', async () => {
    const chat = 'plant-end';
    const host = hostFolder(hostRoot);
    assert.match(await run(chat, `ln -s ${host.dir} /workspace/host && ln -s ${host.dir}/keep.txt /workspace/keep && mkfifo /workspace/pipe && echo planted`), /planted/);
    const dataDir = h.app.store.getConversation(apiConversationId(chat))!.dataDir!;
    await h.ask(chat, '/end');
    assert.ok(!existsSync(dataDir), 'the workspace is gone');
    assert.deepEqual(host.snap(), host.before);
    assert.equal(await h.ask(chat, 'still here?'), 'Echo: still here?');
  });
});
