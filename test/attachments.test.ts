/**
 * Attachment names from chat services are written by whoever sent the
 * message. These tests feed hostile names to the real functions and look at
 * what lands on disk in a temp folder, and what does not land outside it.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttachmentError, MAX_NAME_BYTES, inboxPathFor, safeFileName, writeAttachment } from '../src/inbox/attachments.ts';

describe('safeFileName', () => {
  it('keeps only the last component of a Unix path that climbs out', () => {
    assert.equal(safeFileName('../../etc/passwd'), 'passwd');
  });

  it('keeps only the last component of a Windows path that climbs out', () => {
    assert.equal(safeFileName('..\\..\\x'), 'x');
    assert.equal(safeFileName('C:\\Users\\me\\report.docx'), 'report.docx');
  });

  it('turns an absolute path into its last component', () => {
    assert.equal(safeFileName('/abs/path'), 'path');
    assert.equal(safeFileName('notes/'), 'notes');
  });

  it('drops NUL and other control characters', () => {
    assert.equal(safeFileName('a\0b'), 'ab');
    assert.equal(safeFileName('line\nbreak\r\t.txt'), 'linebreak.txt');
    assert.equal(safeFileName('bell\u0007\u007f\u0085.txt'), 'bell.txt');
  });

  it('drops bidi overrides, so a disguised .exe shows its real extension', () => {
    assert.equal(safeFileName('\u202Etxt.exe'), 'txt.exe');
    assert.equal(safeFileName('invoice\u202Efdp.exe'), 'invoicefdp.exe');
    assert.equal(safeFileName('a\u2066b\u2067c\u2068d\u2069e\u202Af\u202Bg\u202Ch\u202Di.txt'), 'abcdefghi.txt');
  });

  it('prefixes Windows reserved names, with or without an extension, in any case', () => {
    assert.equal(safeFileName('CON'), '_CON');
    assert.equal(safeFileName('con.txt'), '_con.txt');
    assert.equal(safeFileName('Nul'), '_Nul');
    assert.equal(safeFileName('COM1'), '_COM1');
    assert.equal(safeFileName('lpt9.log'), '_lpt9.log');
    // Only the exact device names are reserved.
    assert.equal(safeFileName('CONSOLE.txt'), 'CONSOLE.txt');
    assert.equal(safeFileName('COM10'), 'COM10');
  });

  it('gives the fallback for names that are only dots, separators or nothing', () => {
    assert.equal(safeFileName('....'), 'file');
    assert.equal(safeFileName('..'), 'file');
    assert.equal(safeFileName('.'), 'file');
    assert.equal(safeFileName(''), 'file');
    assert.equal(safeFileName('/'), 'file');
    assert.equal(safeFileName('\u202E\0'), 'file');
    assert.equal(safeFileName('...', 'photo.jpg'), 'photo.jpg');
  });

  it('never makes a hidden file or a name a shell would read as an option', () => {
    assert.equal(safeFileName('.bashrc'), 'bashrc');
    assert.equal(safeFileName(' .profile'), 'profile');
    assert.equal(safeFileName('-rf'), '_rf');
    assert.equal(safeFileName('--help.txt'), '_-help.txt');
  });

  it('drops trailing dots and spaces', () => {
    assert.equal(safeFileName('x.txt. . '), 'x.txt');
    assert.equal(safeFileName('name...'), 'name');
  });

  it('replaces characters outside the safe set with "_"', () => {
    assert.equal(safeFileName('a<b>|c?.txt'), 'a_b__c_.txt');
    assert.equal(safeFileName('$(rm -rf ~).sh'), '_(rm -rf _).sh');
    assert.equal(safeFileName('`id`;"x"*.txt'), '_id___x__.txt');
  });

  it('keeps accented letters, other scripts and emoji readable', () => {
    assert.equal(safeFileName('Résumé (final).pdf'), 'Résumé (final).pdf');
    assert.equal(safeFileName('報告書.docx'), '報告書.docx');
    assert.equal(safeFileName('📄 report 🎉.pdf'), '📄 report 🎉.pdf');
    assert.equal(safeFileName('👨‍👩‍👧 family.jpg'), '👨‍👩‍👧 family.jpg');
    // A zero-width joiner between letters is invisible, so it goes.
    assert.equal(safeFileName('pay\u200dpal.txt'), 'paypal.txt');
  });

  it('shortens a 300-character name to 100 UTF-8 bytes and keeps its extension', () => {
    const out = safeFileName(`${'a'.repeat(300)}.pdf`);
    assert.equal(Buffer.byteLength(out), MAX_NAME_BYTES);
    assert.ok(out.endsWith('.pdf'));
  });

  it('shortens multi-byte names without cutting a character or an emoji in half', () => {
    for (const [unit, ext] of [['日本', '.txt'], ['🎉', '.png'], ['👨‍👩‍👧', '.gif'], ['é', '']]) {
      const out = safeFileName(unit.repeat(300) + ext);
      assert.ok(Buffer.byteLength(out) <= MAX_NAME_BYTES, `${out} is ${Buffer.byteLength(out)} bytes`);
      assert.ok(Buffer.byteLength(out) > MAX_NAME_BYTES - Buffer.byteLength(unit), `${out} is shorter than needed`);
      assert.ok(out.endsWith(ext));
      // Whole characters only: what is left of the name is a run of whole units.
      const [first] = [...new Intl.Segmenter().segment(unit)].map((g) => g.segment);
      const stem = out.slice(0, out.length - ext.length);
      assert.ok(stem.startsWith(first) && stem.split(unit).join('').replace(new RegExp(`${first}$`), '') === '', `${stem} cuts a character`);
      assert.ok(!out.includes('\ufffd'));
    }
  });

  it('treats an over-long "extension" as part of the name', () => {
    const out = safeFileName(`x.${'y'.repeat(300)}`);
    assert.equal(Buffer.byteLength(out), MAX_NAME_BYTES);
    assert.ok(out.startsWith('x.yyy'));
  });
});

describe('inbox files', () => {
  let root: string;
  let n = 0;
  /** A fresh workspace with an empty inbox, and a folder beside it standing for "the rest of the host". */
  const setup = () => {
    const ws = join(root, `ws-${++n}`);
    const inbox = join(ws, 'inbox');
    const outside = join(root, `outside-${n}`);
    mkdirSync(inbox, { recursive: true });
    mkdirSync(outside);
    return { ws, inbox, outside };
  };
  /** The AttachmentError thrown by `fn`, failing the test if none is. */
  const attachmentError = (fn: () => unknown): AttachmentError => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof AttachmentError, `expected an AttachmentError, got ${err}`);
      return err;
    }
    assert.fail('no error was thrown');
  };

  before(() => { root = mkdtempSync(join(tmpdir(), 'nc-attach-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('inboxPathFor puts every hostile name directly inside the inbox and creates nothing', () => {
    const { inbox } = setup();
    const hostile = ['../../etc/passwd', '..\\..\\x', '/abs/path', 'a\0b', '\u202Etxt.exe', 'CON', '....', `${'n'.repeat(300)}.txt`, '🎉.png', '..', '/'];
    for (const name of hostile) {
      const path = inboxPathFor(inbox, name);
      assert.equal(dirname(path), inbox, `${JSON.stringify(name)} -> ${path}`);
      assert.ok(Buffer.byteLength(path.slice(inbox.length + 1)) <= MAX_NAME_BYTES);
    }
    assert.deepEqual(readdirSync(inbox), []);
  });

  it('inboxPathFor numbers a name that is taken: "name (2).ext"', () => {
    const { inbox } = setup();
    writeFileSync(join(inbox, 'report.pdf'), 'first');
    assert.equal(inboxPathFor(inbox, 'report.pdf'), join(inbox, 'report (2).pdf'));
    writeFileSync(join(inbox, 'report (2).pdf'), 'second');
    assert.equal(inboxPathFor(inbox, '../report.pdf'), join(inbox, 'report (3).pdf'));
  });

  it('inboxPathFor counts a dangling symlink as taken', () => {
    const { inbox, outside } = setup();
    symlinkSync(join(outside, 'not-there'), join(inbox, 'a.txt'));
    assert.equal(inboxPathFor(inbox, 'a.txt'), join(inbox, 'a (2).txt'));
  });

  it('inboxPathFor refuses an inbox that is a symlink or missing', () => {
    const { ws, outside } = setup();
    symlinkSync(outside, join(ws, 'linked'));
    const linked = attachmentError(() => inboxPathFor(join(ws, 'linked'), 'x.txt'));
    assert.match(linked.message, /is a symlink/);
    assert.equal(linked.kind, 'unsafe_inbox');
    const missing = attachmentError(() => inboxPathFor(join(ws, 'missing'), 'x.txt'));
    assert.match(missing.message, /does not exist; create it/);
    assert.equal(missing.kind, 'failed');
  });

  it('writeAttachment stores the bytes under the safe name and returns its path', () => {
    const { inbox } = setup();
    const path = writeAttachment(inbox, '../../etc/passwd', Buffer.from('hello'), 1024);
    assert.equal(path, join(inbox, 'passwd'));
    assert.equal(readFileSync(path, 'utf8'), 'hello');
    assert.deepEqual(readdirSync(inbox), ['passwd']);
  });

  it('writeAttachment keeps both files when the same name arrives twice', () => {
    const { inbox } = setup();
    const first = writeAttachment(inbox, 'photo.jpg', Buffer.from('one'), 1024);
    const second = writeAttachment(inbox, 'photo.jpg', Buffer.from('two'), 1024);
    assert.equal(first, join(inbox, 'photo.jpg'));
    assert.equal(second, join(inbox, 'photo (2).jpg'));
    assert.equal(readFileSync(first, 'utf8'), 'one');
    assert.equal(readFileSync(second, 'utf8'), 'two');
  });

  it('writeAttachment neither follows nor overwrites a symlink in the inbox that points outside', () => {
    const { inbox, outside } = setup();
    const target = join(outside, 'victim.txt');
    writeFileSync(target, 'original');
    symlinkSync(target, join(inbox, 'report.pdf'));
    // And a dangling one, which a plain open would create through.
    symlinkSync(join(outside, 'created.txt'), join(inbox, 'new.txt'));

    const a = writeAttachment(inbox, 'report.pdf', Buffer.from('attacker data'), 1024);
    const b = writeAttachment(inbox, 'new.txt', Buffer.from('attacker data'), 1024);
    assert.equal(a, join(inbox, 'report (2).pdf'));
    assert.equal(b, join(inbox, 'new (2).txt'));
    assert.equal(readFileSync(target, 'utf8'), 'original');
    assert.equal(existsSync(join(outside, 'created.txt')), false);
    assert.ok(lstatSync(join(inbox, 'report.pdf')).isSymbolicLink());
    assert.equal(readlinkSync(join(inbox, 'report.pdf')), target);
  });

  it('writeAttachment refuses data over maxBytes and writes nothing', () => {
    const { inbox } = setup();
    const err = attachmentError(() => writeAttachment(inbox, 'big.bin', Buffer.alloc(2048), 2047));
    assert.match(err.message, /"big\.bin" is 2048 bytes \(2\.0 KiB\), over the limit of 2047 bytes/);
    assert.equal(err.kind, 'too_large');
    assert.deepEqual(readdirSync(inbox), []);
    // Exactly the limit is fine.
    writeAttachment(inbox, 'big.bin', Buffer.alloc(2047), 2047);
    assert.deepEqual(readdirSync(inbox), ['big.bin']);
  });

  it('writeAttachment refuses an inbox the agent replaced with a symlink to a host folder', () => {
    const { ws, inbox, outside } = setup();
    rmSync(inbox, { recursive: true });
    symlinkSync(outside, inbox);
    const err = attachmentError(() => writeAttachment(inbox, 'cron-job', Buffer.from('* * * * * evil'), 1024));
    assert.match(err.message, /the inbox .* is a symlink; attachments are only written to a real folder/);
    assert.equal(err.kind, 'unsafe_inbox');
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(existsSync(ws));
  });

  it('writeAttachment with a root refuses an inbox whose parent folder was swapped for a symlink', () => {
    const { ws, outside } = setup();
    // The inbox is ws/files/inbox; the agent swaps "files" for a link to a host folder that has an "inbox".
    mkdirSync(join(outside, 'inbox'));
    symlinkSync(outside, join(ws, 'files'));
    const err = attachmentError(() => writeAttachment(join(ws, 'files', 'inbox'), 'x.txt', Buffer.from('x'), 1024, { root: ws }));
    assert.match(err.message, /outside .*a symlink may have been planted/);
    assert.equal(err.kind, 'unsafe_inbox');
    assert.deepEqual(readdirSync(join(outside, 'inbox')), []);
  });

});
