/**
 * The audit log's durability with group commit: when a record is in the
 * file, when the head witness moves, and what a writer killed mid-batch
 * leaves behind (real files, a real child process, SIGKILL).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { AuditLog, auditLogPath, readAuditLog, verifyAuditLog, type AuditHead, type AuditRecord } from '../src/audit/audit-log.ts';
import { readHead } from '../src/audit/head.ts';
import { auditCli as cli } from './support/audit-cli-run.ts';

describe('audit log durability (group commit)', () => {
  let dir: string;
  let n = 0;
  const fresh = () => join(dir, `audit-${++n}.log`);
  const headOf = (file: string) => readHead(`${file}.head`).head;
  const tool = (i: number) => ({ type: 'tool.call', conversation: `c-${i % 3}`, data: { tool: 'Bash', input: `echo ${i}` } });

  before(() => { dir = mkdtempSync(join(tmpdir(), 'nca-commit-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a record is in the file when append returns; one sync then covers the whole batch and moves the head witness', async () => {
    const file = fresh();
    const heads: AuditHead[] = [];
    const log = AuditLog.open(file, { onHead: (h) => heads.push(h) });
    try {
      const records = Array.from({ length: 300 }, (_, i) => log.append(tool(i + 1)));
      // Readers (and a crash of the process) see every record at once; the witness has not moved yet, which verify allows.
      assert.deepEqual(readAuditLog(file).map((r) => r.seq), records.map((r) => r.seq));
      assert.deepEqual(headOf(file), { seq: 0, hash: '0'.repeat(64) });
      assert.deepEqual(verifyAuditLog(file), { ok: true, records: 300, problems: [] });
      assert.deepEqual(log.durable.seq, 0);

      const durable = await log.flush();
      assert.deepEqual(durable, { seq: 300, hash: records[299].hash });
      assert.deepEqual(heads, [durable], 'one head update (one sync) for the 300 records appended in one go');
      assert.deepEqual(headOf(file), durable);

      // Left alone, a later record is made durable by the background batch, without flush or close.
      const next = log.append(tool(301));
      for (let i = 0; i < 500 && headOf(file)?.seq !== 301; i++) await sleep(10);
      assert.deepEqual(headOf(file), { seq: 301, hash: next.hash });
      assert.deepEqual(heads.map((h) => h.seq), [300, 301]);
    } finally {
      log.close();
    }
  });

  it('close syncs what is left before it returns: the head witness names the last record', () => {
    const file = fresh();
    let copy: AuditHead | undefined;
    const log = AuditLog.open(file, { onHead: (h) => { copy = h; } });
    let last: AuditRecord | undefined;
    for (let i = 1; i <= 50; i++) last = log.append(tool(i));
    log.close();
    assert.deepEqual(headOf(file), { seq: 50, hash: last!.hash });
    assert.deepEqual(copy, { seq: 50, hash: last!.hash });
    assert.deepEqual(verifyAuditLog(file), { ok: true, records: 50, problems: [] });
    assert.equal(existsSync(`${file}.lock`), false);
  });

  it('a batch that cannot move the head witness is reported by the next append, and the one after catches up', async () => {
    const file = fresh();
    const log = AuditLog.open(file);
    try {
      log.append(tool(1));
      await log.flush();
      // A directory where the witness goes: the rename that puts a new witness in place fails.
      rmSync(`${file}.head`);
      mkdirSync(`${file}.head`);
      log.append(tool(2));
      await assert.rejects(log.flush(), /record seq 2 of the audit log could not be made durable .*head witness still names seq 1/);
      assert.throws(() => log.append(tool(3)), /record seq 2 of the audit log could not be made durable/);
      assert.equal(readAuditLog(file).length, 2, 'the append that reported the failure wrote nothing');

      rmSync(`${file}.head`, { recursive: true });
      const third = log.append(tool(3));
      assert.deepEqual(await log.flush(), { seq: 3, hash: third.hash });
      assert.deepEqual(verifyAuditLog(file), { ok: true, records: 3, problems: [] });
    } finally {
      log.close();
    }
  });

  it('a writer SIGKILLed mid-batch leaves every record it appended, and a log that verify accepts up to the last complete record', async () => {
    const module = new URL('../src/audit/audit-log.js', import.meta.url).href;
    // Bursts of appends with a turn of the event loop in between, so batches sync while records keep coming.
    const writer = `
      const { AuditLog, auditLogPath } = await import(${JSON.stringify(module)});
      const log = AuditLog.open(auditLogPath(process.env.HOME_DIR), { onHead: (h) => process.stdout.write('head ' + h.seq + '\\n') });
      const pad = 'x'.repeat(900);
      let i = 0;
      const burst = () => {
        for (let k = 0; k < 25; k++, i++) {
          log.append({ type: 'egress.denied', conversation: 'c-' + (i % 3), data: { host: 'load.example', i, pad: i % 5 ? '' : [pad, pad, pad, pad, pad] } });
        }
        process.stdout.write('appended ' + i + '\\n');
        setImmediate(burst);
      };
      burst();`;
    for (const killAfterHeads of [2, 6, 15]) {
      const home = mkdtempSync(join(dir, 'home-'));
      const file = auditLogPath(home);
      const child = spawn(process.execPath, ['--input-type=module', '-e', writer], { env: { PATH: process.env.PATH!, HOME_DIR: home }, stdio: ['ignore', 'pipe', 'inherit'] });
      let appended = 0;
      let lastHead = 0;
      let heads = 0;
      let buffered = '';
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`the writer exited early (${code})`)));
        child.stdout.on('data', (chunk) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            const [what, seq] = line.split(' ');
            if (what === 'appended') appended = Number(seq);
            if (what === 'head') { lastHead = Number(seq); heads++; }
          }
          if (heads >= killAfterHeads && child.kill('SIGKILL')) resolve();
        });
      });
      await exited;

      const records = readAuditLog(file);
      assert.ok(records.length >= appended, `every record append returned before the kill is in the file (${records.length} < ${appended})`);
      assert.deepEqual(records.map((r) => r.seq), Array.from({ length: records.length }, (_, i) => i + 1), 'in order, none missing');
      const head = headOf(file)!;
      assert.ok(head.seq >= lastHead && head.seq <= records.length, `head witness at seq ${head.seq}: behind the log (${records.length}), never ahead, and not behind what onHead reported (${lastHead})`);
      assert.equal(head.hash, records[head.seq - 1].hash);

      // The only problem verify may find is the last line, cut short by the kill; every complete record checks.
      const v = verifyAuditLog(file);
      assert.equal(v.records, records.length);
      const totalLines = readFileSync(file, 'utf8').split('\n').length - 1;
      for (const p of v.problems) assert.match(`${p.line}: ${p.problem}`, new RegExp(`^${totalLines + 1}: line ${totalLines + 1} is cut short`));
      const verdict = await cli(['verify'], home);
      if (v.problems.length === 0) assert.deepEqual([verdict.code, verdict.stdout], [0, `audit log intact: ${records.length} records\n`]);
      else {
        assert.equal(verdict.code, 1);
        assert.match(verdict.stdout, new RegExp(`NOT intact: 1 problem in ${records.length} records\\n.*is cut short`));
      }

      // The next gateway continues the chain from the last complete record.
      const reopened = AuditLog.open(file);
      const next = reopened.append({ type: 'auth.denied', data: { channel: 'http', reason: 'bad token' } });
      reopened.close();
      const continued = readAuditLog(file);
      assert.equal(continued[records.length].prev, records.at(-1)!.hash);
      assert.equal(next.seq, continued.length);
      assert.equal(verifyAuditLog(file).problems.length, v.problems.length);
    }
  });
});
