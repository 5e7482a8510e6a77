/**
 * The audit log on real files: what it writes, what survives a crash, and
 * what `verify` catches when someone edits, removes, reorders or cuts
 * records. Tampering is done the way an intruder would: with a text editor's
 * worth of string surgery on the file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { AuditLog, auditLogPath, readAuditLog, summarize, verifyAuditLog, type AuditHead, type AuditRecord } from '../src/audit/audit-log.ts';
import { MAX_STRING } from '../src/audit/bounded.ts';
import { recordHash, serializeRecord } from '../src/audit/record.ts';
import { auditCli as cli } from './support/audit-cli-run.ts';

describe('audit log (hash chain with a head witness)', () => {
  let dir: string;
  let n = 0;
  const open: AuditLog[] = [];
  const fresh = () => join(dir, `audit-${++n}.log`);
  const openLog = (file: string, opts: Parameters<typeof AuditLog.open>[1] = {}) => {
    const log = AuditLog.open(file, { fsync: false, ...opts });
    open.push(log);
    return log;
  };
  /** A closed log of `count` records: tool calls in two conversations. */
  const build = (file: string, count: number, opts: Parameters<typeof AuditLog.open>[1] = {}) => {
    const log = openLog(file, opts);
    const records = Array.from({ length: count }, (_, i) =>
      log.append({ type: 'tool.call', conversation: i % 2 ? 'c-odd' : 'c-even', container: 'nanoclaw-0123456789', data: { tool: 'Bash', input: `echo ${i + 1}` } }));
    log.close();
    return records;
  };
  const lines = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
  const writeLines = (file: string, ls: string[]) => writeFileSync(file, ls.map((l) => l + '\n').join(''));

  before(() => { dir = mkdtempSync(join(tmpdir(), 'nca-')); });
  afterEach(() => { for (const log of open.splice(0)) log.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('continues the chain across close and reopen, in a file only its owner can read (commit "each": head moved before append returns)', () => {
    const file = fresh();
    const first = build(file, 2);
    assert.deepEqual(first.map((r) => r.seq), [1, 2]);
    assert.equal(first[0].prev, '0'.repeat(64));
    assert.equal(first[1].prev, first[0].hash);

    const again = openLog(file, { fsync: true, commit: 'each' });
    const third = again.append({ type: 'container.destroyed', conversation: 'c-odd', data: { reason: 'idle timeout', exitCode: 0 } });
    assert.equal(third.seq, 3);
    assert.equal(third.prev, first[1].hash);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(`${file}.head`, 'utf8')), { seq: 3, hash: third.hash });
    assert.deepEqual(readAuditLog(file).map((r) => [r.seq, r.type]), [[1, 'tool.call'], [2, 'tool.call'], [3, 'container.destroyed']]);
  });

  it('verify passes on an intact log and counts its records', () => {
    const file = fresh();
    build(file, 5);
    assert.deepEqual(verifyAuditLog(file), { ok: true, records: 5, problems: [] });
  });

  it('verify names the record whose field was edited', () => {
    const file = fresh();
    build(file, 5);
    const ls = lines(file);
    ls[1] = ls[1].replace('echo 2', 'echo innocent');
    writeLines(file, ls);
    const v = verifyAuditLog(file);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq]), [[2, 2]]);
    assert.match(v.problems[0].problem, /seq 2 does not match its hash \(it was edited\)/);

    // Recomputing the edited record's own hash moves the evidence to the next record's prev.
    const edited = JSON.parse(ls[1]) as AuditRecord;
    const { hash: _stale, ...body } = edited;
    ls[1] = serializeRecord(body, recordHash(body));
    writeLines(file, ls);
    assert.deepEqual(verifyAuditLog(file).problems.map((p) => [p.line, p.seq, p.problem]),
      [[3, 3, 'record seq 3 does not follow record seq 2: its prev hash differs (the record before it was changed or replaced)']]);
  });

  it('verify reports a record removed from the middle as a gap in seq', () => {
    const file = fresh();
    build(file, 5);
    writeLines(file, lines(file).filter((_, i) => i !== 2));
    const v = verifyAuditLog(file);
    assert.equal(v.records, 4);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq]), [[3, 4]]);
    assert.match(v.problems[0].problem, /seq 3 is missing before record seq 4/);
  });

  it('verify reports two swapped records', () => {
    const file = fresh();
    build(file, 5);
    const ls = lines(file);
    [ls[1], ls[2]] = [ls[2], ls[1]];
    writeLines(file, ls);
    const v = verifyAuditLog(file);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq]), [[2, 3], [3, 2]]);
    assert.match(v.problems[1].problem, /record seq 2 comes after record seq 3 \(records reordered/);
  });

  it('verify catches the last record removed through the head witness (the chain alone cannot)', () => {
    const file = fresh();
    build(file, 5);
    writeLines(file, lines(file).slice(0, 4));
    const v = verifyAuditLog(file);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq]), [[5, 5]]);
    assert.match(v.problems[0].problem, /the head witness says the log reached seq 5, but it ends at seq 4: seq 5 removed from the end/);
    // Deleting the witness as well does not hide it.
    rmSync(`${file}.head`);
    assert.match(verifyAuditLog(file).problems[0].problem, /there is no head witness, though the log reaches seq 4/);
  });

  it('verify reports a line that is not a record, and checks the chain straight across it', () => {
    const file = fresh();
    build(file, 5);
    const ls = lines(file);
    ls.splice(2, 0, 'rm -rf / # not a record');
    writeLines(file, ls);
    const v = verifyAuditLog(file);
    assert.equal(v.records, 5);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq, p.problem]), [[3, undefined, 'line 3 is not an audit record (not JSON)']]);
  });

  it('a log rewritten with fresh hashes passes its own head file, but not a head copy kept elsewhere (onHead)', () => {
    const file = fresh();
    let elsewhere: AuditHead | undefined;
    build(file, 3, { onHead: (h) => { elsewhere = h; } });
    assert.equal(elsewhere?.seq, 3);
    // An intruder who knows the format edits record 2 and recomputes everything after it.
    const records = lines(file).map((l) => JSON.parse(l) as AuditRecord);
    records[1].data = { tool: 'Bash', input: 'echo harmless' };
    for (let i = 1; i < records.length; i++) {
      const { hash: _old, ...body } = records[i];
      body.prev = records[i - 1].hash;
      records[i] = { ...body, hash: recordHash(body) };
    }
    writeLines(file, records.map(({ hash, ...body }) => serializeRecord(body, hash)));
    writeFileSync(`${file}.head`, JSON.stringify({ seq: 3, hash: records[2].hash }));

    assert.equal(verifyAuditLog(file).ok, true);
    const v = verifyAuditLog(file, { head: elsewhere });
    assert.deepEqual(v.problems.map((p) => p.problem), ['record seq 3 is not the one the head witness recorded (the log was rewritten up to there)']);
  });

  it('a line cut short by a crash stays in the file: open records it, the chain goes on, verify keeps reporting it', () => {
    const file = fresh();
    build(file, 3);
    const fragment = '{"conversation":"c-odd","data":{"tool":"Ba';
    appendFileSync(file, fragment);
    assert.deepEqual(verifyAuditLog(file).problems.map((p) => p.problem),
      [`line 4 is cut short (${fragment.length} bytes without a newline: a write interrupted by a crash, or a cut file)`]);

    const log = openLog(file);
    const next = log.append({ type: 'tool.call', conversation: 'c-odd', data: { tool: 'Read' } });
    log.close();
    const ls = lines(file);
    assert.equal(ls[3], fragment);
    const recovered = JSON.parse(ls[4]) as AuditRecord;
    assert.equal(recovered.type, 'audit.recovered');
    assert.equal(recovered.seq, 4);
    assert.deepEqual(recovered.data, { damaged: [{ offset: readFileSync(file).indexOf(fragment), bytes: fragment.length, sha256: createHash('sha256').update(fragment).digest('hex') }] });
    assert.equal(next.seq, 5);
    const v = verifyAuditLog(file);
    assert.equal(v.records, 5);
    assert.deepEqual(v.problems.map((p) => [p.line, p.problem]), [[4, 'line 4 is not an audit record (not JSON)']]);
  });

  it('open records records cut from the end, so verify still reports it after new appends', () => {
    const file = fresh();
    build(file, 5);
    writeLines(file, lines(file).slice(0, 3));
    const log = openLog(file);
    assert.equal(log.append({ type: 'auth.denied', data: { channel: 'http', reason: 'bad token' } }).seq, 5);
    log.close();
    assert.deepEqual(readAuditLog(file).map((r) => [r.seq, r.type]).slice(3), [[4, 'audit.recovered'], [5, 'auth.denied']]);
    const v = verifyAuditLog(file);
    assert.deepEqual(v.problems.map((p) => [p.line, p.seq, p.problem]),
      [[4, 4, 'when the log was reopened, the head witness says the log reached seq 5, but it ends at seq 3: seq 4-5 removed from the end']]);
  });

  it('finds the end of a log larger than its 1 MiB read chunk, with the last record cut in half', () => {
    const file = fresh();
    const log = openLog(file);
    const x = 'x'.repeat(990);
    for (let i = 0; i < 300; i++) log.append({ type: 'tool.call', data: { i, a: x, b: x, c: x, d: x } });
    log.close();
    const size = statSync(file).size;
    assert.ok(size > 1.1 * (1 << 20), `log is ${size} bytes`);
    writeFileSync(file, readFileSync(file).subarray(0, size - 500));

    const reopened = openLog(file);
    assert.equal(reopened.last.seq, 300);
    reopened.close();
    const tail = readAuditLog(file, { limit: 2 });
    assert.deepEqual(tail.map((r) => [r.seq, r.type]), [[299, 'tool.call'], [300, 'audit.recovered']]);
    assert.match(String(tail[1].data!.headProblem), /reached seq 300, but it ends at seq 299/);
    assert.deepEqual(verifyAuditLog(file).problems.map((p) => p.line), [300, 301]);
  });

  it('a head one record behind (a crash between record and head) is not a problem', () => {
    const file = fresh();
    const records = build(file, 3);
    writeFileSync(`${file}.head`, JSON.stringify({ seq: 2, hash: records[1].hash }));
    assert.deepEqual(verifyAuditLog(file), { ok: true, records: 3, problems: [] });
    openLog(file).append({ type: 'tool.call' });
    assert.deepEqual(readAuditLog(file).map((r) => r.type), ['tool.call', 'tool.call', 'tool.call', 'tool.call']);
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('an outside tool can check each line with SHA-256 alone (the rule in the file header)', () => {
    const file = fresh();
    const log = openLog(file);
    log.append({ type: 'memory.commit', conversation: 'c-x', data: { commit: 'abc123', files: ['notes/é ✓ 🙂.md'], note: 'tab\there "quoted" \\ \u0001' } });
    log.append({ type: 'admin.allow_domain', actor: 'owner', conversation: 'c-x', data: { domain: 'example.com', z: 1, a: { y: 2, b: [3, { d: 4, c: 5 }] } } });
    let prev = '0'.repeat(64);
    for (const line of lines(file)) {
      const hash = line.slice(-66, -2);
      assert.equal(line.slice(-75, -66), ',"hash":"');
      const body = line.slice(0, -75) + '}';
      assert.equal(createHash('sha256').update(body, 'utf8').digest('hex'), hash);
      const parsed = JSON.parse(body);
      assert.deepEqual(Object.keys(parsed), Object.keys(parsed).sort(), 'members in sorted order');
      assert.equal(parsed.prev, prev);
      prev = hash;
    }
    assert.ok(lines(file)[1].includes('"a":{"b":[3,{"c":5,"d":4}],"y":2}'), 'nested members sorted too');
  });

  it('cuts long strings with a marker and bounds big data, so one tool call cannot blow up the log', () => {
    const file = fresh();
    const log = openLog(file);
    const r = log.append({ type: 'tool.call', data: { tool: 'Write', input: 'x'.repeat(50_000), list: Array.from({ length: 500 }, (_, i) => i) } });
    const input = r.data!.input as string;
    assert.equal(input, `${'x'.repeat(MAX_STRING)}…[cut ${50_000 - MAX_STRING} chars]`);
    assert.equal((r.data!.list as unknown[]).length, 51);
    assert.equal((r.data!.list as unknown[])[50], '…[cut 450 items]');
    const huge = log.append({ type: 'tool.call', data: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'y'.repeat(900)])) });
    assert.match(String(huge.data!.cut), /^\d+ chars of data$/);
    assert.ok(statSync(file).size < 25_000, `log is ${statSync(file).size} bytes`);
    assert.equal(summarize({ command: 'a'.repeat(1000) }).length, 300);
    assert.equal(summarize('  ls\n  -la  '), 'ls -la');
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('redacts credential-shaped values and fields named like credentials', () => {
    const file = fresh();
    const log = openLog(file);
    log.append({ type: 'model.request', data: { apiKey: 'anything-at-all', headers: { authorization: 'Bearer abcdefgh12345678' }, inputTokens: 12,
      note: 'curl -H "x-api-key: sk-ant-api03-SECRETSECRETSECRET" https://api.anthropic.com' } });
    log.close();
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /anything-at-all|abcdefgh12345678|SECRETSECRET/);
    assert.match(text, /"apiKey":"\[redacted\]"/);
    assert.match(text, /"inputTokens":12/);
    assert.match(summarize('token is sk-ant-api03-SECRETSECRETSECRET'), /^token is sk-ant-\[redacted\]$/);
  });

  it('stores odd values as plain JSON that still verifies after a round trip', () => {
    const file = fresh();
    const log = openLog(file);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const r = log.append({ type: 'tool.call', data: {
      big: 10n ** 30n, buf: Buffer.from('secret bytes'), err: new Error('boom'), when: new Date(0), nan: NaN, gone: undefined,
      cyclic, lone: 'ab\uD800cd', proto: JSON.parse('{"__proto__":{"x":1}}'), set: new Set([1, 2]),
    } });
    assert.deepEqual(r.data, {
      big: '1000000000000000000000000000000', buf: '[12 bytes]', err: 'Error: boom', when: '1970-01-01T00:00:00.000Z', nan: 'NaN',
      cyclic: { name: 'loop', self: '[circular]' }, lone: 'ab\uFFFDcd', proto: JSON.parse('{"__proto__":{"x":1}}'), set: [1, 2],
    });
    log.close();
    assert.deepEqual(readAuditLog(file)[0], r);
    assert.equal(verifyAuditLog(file).ok, true);
  });

  it('keeps concurrent appends from one process in order, one record per line', async () => {
    const file = fresh();
    const log = openLog(file);
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 25; i++) {
        await (i % 4 ? new Promise((r) => setImmediate(r)) : sleep(1));
        log.append({ type: 'egress.allowed', conversation: `c-${w}`, data: { host: 'example.com', port: 443, i, pad: 'z'.repeat(w * 100) } });
      }
    }));
    const records = readAuditLog(file);
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    for (let w = 0; w < 8; w++) {
      assert.deepEqual(records.filter((r) => r.conversation === `c-${w}`).map((r) => r.data!.i), Array.from({ length: 25 }, (_, i) => i));
    }
    assert.ok(records.slice(0, 25).some((r) => r.conversation !== records[0].conversation), 'the writers interleaved');
    assert.deepEqual(verifyAuditLog(file), { ok: true, records: 200, problems: [] });
  });

  it('refuses a second writer for the same file in one process, and event types that are not dotted names', () => {
    const file = fresh();
    const log = openLog(file);
    assert.throws(() => AuditLog.open(file), /already open in this process/);
    assert.throws(() => log.append({ type: 'Tool Call!' }), /not a dotted lower-case name like egress.denied/);
    log.close();
    assert.throws(() => log.append({ type: 'tool.call' }), /is closed/);
    assert.equal(readAuditLog(file).length, 0);
  });

  it('refuses a writer while another live process holds the log, and takes over the lock of a dead one', async () => {
    const file = fresh();
    const module = new URL('../src/audit/audit-log.js', import.meta.url).href;
    const holder = spawn(process.execPath, ['--input-type=module', '-e',
      `const { AuditLog } = await import(${JSON.stringify(module)}); AuditLog.open(${JSON.stringify(file)}, { fsync: false }).append({ type: 'tool.call' }); console.log('ready'); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    try {
      assert.throws(() => AuditLog.open(file), new RegExp(`process ${holder.pid} is writing it`));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // Killed without closing: its lock is left behind, and is stale.
    assert.equal(readFileSync(`${file}.lock`, 'utf8').trim(), String(holder.pid));
    const log = openLog(file);
    assert.equal(log.append({ type: 'tool.call' }).seq, 2);
    log.close();
    assert.equal(existsSync(`${file}.lock`), false);
  });

  it('readAuditLog filters by type prefix, conversation, time and limit (the last N)', async () => {
    const file = fresh();
    const log = openLog(file);
    log.append({ type: 'egress.allowed', conversation: 'c-a', data: { host: 'a.example' } });
    log.append({ type: 'egress.denied', conversation: 'c-b', data: { host: 'b.example' } });
    await sleep(5);
    const since = new Date();
    log.append({ type: 'admin.end_conversation', conversation: 'c-a', actor: 'owner' });
    log.append({ type: 'egress.denied', conversation: 'c-a', data: { host: 'c.example' } });
    const seqs = (f: Parameters<typeof readAuditLog>[1]) => readAuditLog(file, f).map((r) => r.seq);
    assert.deepEqual(seqs({ type: 'egress' }), [1, 2, 4]);
    assert.deepEqual(seqs({ type: 'egress.denied', conversation: 'c-a' }), [4]);
    assert.deepEqual(seqs({ since }), [3, 4]);
    assert.deepEqual(seqs({ type: 'egress', limit: 2 }), [2, 4]);
    assert.deepEqual(seqs({ conversation: 'c-none' }), []);
    assert.deepEqual(readAuditLog(join(dir, 'missing.log')), []);
  });

  it('nanoclaw audit prints one line per record, filtered by type and conversation', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const log = openLog(auditLogPath(home));
    log.append({ type: 'container.created', conversation: 'c-0123456789abcdef0123', container: 'nanoclaw-a1', data: { runtime: 'runsc', image: 'nanoclaw-agent' } });
    log.append({ type: 'egress.denied', conversation: 'c-0123456789abcdef0123', data: { host: 'evil.example', port: 443, reason: 'not on the allowlist' } });
    log.append({ type: 'egress.allowed', conversation: 'c-ffffffffffffffffffff', data: { host: 'pypi.org', port: 443 } });
    log.close();

    const all = await cli([], home);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trim().split('\n').length, 3);
    const egress = await cli(['--type', 'egress', '--conversation', 'c-0123456789abcdef0123'], home);
    assert.match(egress.stdout, /^\S+Z +2 {2}egress\.denied +c-0123456789abcdef0123 host=evil\.example port=443 reason="not on the allowlist"\n$/);
    const json = await cli(['--type', 'container', '--json'], home);
    assert.deepEqual(JSON.parse(json.stdout).data, { runtime: 'runsc', image: 'nanoclaw-agent' });
    const bad = await cli(['--since', 'yesterday-ish'], home);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--since "yesterday-ish" is not a time: use ISO 8601/);
  });

  it('nanoclaw audit verify says the log is intact, and exits 1 naming each problem on a tampered one', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const file = auditLogPath(home);
    build(file, 4);
    const ok = await cli(['verify'], home);
    assert.deepEqual([ok.code, ok.stdout], [0, 'audit log intact: 4 records\n']);

    const ls = lines(file);
    ls[2] = ls[2].replace('echo 3', 'echo 33');
    writeLines(file, ls.slice(0, 3));
    const bad = await cli(['verify'], home);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /NOT intact: 2 problems in 3 records/);
    assert.match(bad.stdout, /line 3 \(seq 3\): record seq 3 does not match its hash/);
    assert.match(bad.stdout, /line 4 \(seq 4\): the head witness says the log reached seq 4, but it ends at seq 3/);
    const json = await cli(['verify', '--json'], home);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).problems.length, 2);
  });
});
