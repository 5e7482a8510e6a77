import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { simpleParser, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { SMTPServer } from 'smtp-server';

/** Why the real-server tests cannot run here, or undefined when they can (Dovecot is installed). */
export function mailServersMissing(): string | undefined {
  const found = spawnSync('dovecot', ['--version'], { encoding: 'utf8' });
  if (found.error || found.status !== 0) return 'Dovecot is not installed (Debian package dovecot-imapd; `npm test` installs it when run as root)';
  return undefined;
}

/** A mail the SMTP server took: the envelope and the parsed message. */
export interface SentMail { from: string; to: string[]; raw: Buffer; mail: ParsedMail }

/** A mail to put in the agent's mailbox, as a person's mail client would write it. */
export interface IncomingMail {
  from: string;
  subject?: string;
  text?: string;
  html?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  attachments?: Array<{ filename: string; content: Buffer }>;
  headers?: Record<string, string>;
}

const freePort = async (): Promise<number> => {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
};

/**
 * Real mail servers on loopback for the email channel's tests: Dovecot (from
 * Debian's packages) serving IMAP from its own config in a temp folder, run
 * unprivileged (its processes as `nobody`), and an SMTP server in this
 * process (npm smtp-server) that records every mail it is given. New mail
 * reaches the agent's mailbox the way a delivery agent would put it there:
 * an IMAP APPEND from a second connection.
 *
 *   const servers = await MailServers.start();
 *   const id = await servers.receive({ from: 'owner@example.test', subject: 'Hi', text: 'hello' });
 *   const reply = await servers.nextSent(); // reply.mail.inReplyTo === id
 */
export class MailServers {
  /** The agent's mailbox: login and password. */
  readonly user = 'agent@example.test';
  readonly password = 'agent-secret-pw';
  readonly sent: SentMail[] = [];
  private waiting: Array<() => void> = [];
  private handed = 0;
  private counter = 0;

  private constructor(
    readonly dir: string,
    readonly imapPort: number,
    readonly smtpPort: number,
  ) {}
  private smtp!: SMTPServer;
  private dovecot?: ChildProcess;

  static async start(): Promise<MailServers> {
    const dir = mkdtempSync(join(tmpdir(), 'nct-mail-'));
    // Dovecot's processes run as nobody: its state and the mail live where nobody may write.
    chmodSync(dir, 0o755);
    for (const sub of ['run', 'home']) { mkdirSync(join(dir, sub)); chmodSync(join(dir, sub), 0o777); }
    const imapPort = await freePort();
    const smtpPort = await freePort();
    const servers = new MailServers(dir, imapPort, smtpPort);
    writeFileSync(join(dir, 'passwd'), `${servers.user}:{PLAIN}${servers.password}::::::\n`);
    writeFileSync(join(dir, 'dovecot.conf'), [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/run`,
      `log_path = ${dir}/dovecot.log`,
      'listen = 127.0.0.1',
      'protocols = imap',
      'ssl = no',
      'disable_plaintext_auth = no',
      'auth_mechanisms = plain login',
      'default_login_user = nobody',
      'default_internal_user = nobody',
      'default_internal_group = nogroup',
      `mail_location = maildir:~/Maildir`,
      // New mail is noticed within a second while a client IDLEs.
      'mailbox_idle_check_interval = 1 secs',
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${dir}/passwd\n}`,
      `userdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=${dir}/home/%u\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${imapPort}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n  chroot =\n}`,
      'service anvil {\n  chroot =\n}',
      '',
    ].join('\n'));
    servers.smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Any login is taken: the tests are about what the channel sends, not SMTP auth.
      onAuth: (_auth, _session, cb) => cb(null, { user: 'agent' }),
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks);
          void simpleParser(raw).then((mail) => {
            const sent: SentMail = {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address), raw, mail,
            };
            servers.sent.push(sent);
            servers.waiting.shift()?.();
            cb();
          }, cb);
        });
      },
    });
    servers.smtp.listen(smtpPort, '127.0.0.1');
    await once(servers.smtp.server, 'listening');
    await servers.startDovecot();
    return servers;
  }

  /** Starts Dovecot (again, after `stopDovecot`), in the foreground as this process's child, and waits until it takes connections. */
  async startDovecot(): Promise<void> {
    const child = spawn('dovecot', ['-F', '-c', join(this.dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    this.dovecot = child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dovecot exited with ${child.exitCode}: ${stderr}; see ${this.dir}/dovecot.log`);
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(this.imapPort, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error(`dovecot did not listen on ${this.imapPort} within 15 s: ${stderr}`);
      await sleep(50);
    }
  }

  /** Stops Dovecot: every IMAP connection drops. */
  async stopDovecot(): Promise<void> {
    const child = this.dovecot;
    this.dovecot = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }

  /** Closes the IMAP connections of the agent's mailbox (Dovecot stays up). */
  kick(): string {
    const run = spawnSync('doveadm', ['-c', join(this.dir, 'dovecot.conf'), 'kick', this.user], { encoding: 'utf8' });
    return `${run.stdout}${run.stderr}`;
  }

  /** A client logged in to the agent's mailbox, for putting mail in and looking at flags. */
  async imap<T>(use: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = new ImapFlow({ host: '127.0.0.1', port: this.imapPort, secure: false, auth: { user: this.user, pass: this.password }, logger: false });
    client.on('error', () => {});
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  }

  /** Puts a raw message into the agent's INBOX, as delivery would. */
  async deliver(raw: Buffer | string): Promise<void> {
    await this.imap((c) => c.append('INBOX', raw));
  }

  /** Writes a mail as a mail client would and delivers it; returns its Message-ID. */
  async receive(m: IncomingMail): Promise<string> {
    const messageId = m.messageId ?? `<m${++this.counter}.${Date.now()}@sender.example.test>`;
    const raw = await new MailComposer({
      from: m.from, to: this.user, subject: m.subject ?? '', text: m.text, html: m.html,
      messageId, inReplyTo: m.inReplyTo, references: m.references?.join(' '),
      attachments: m.attachments, headers: m.headers,
    }).compile().build();
    await this.deliver(raw);
    return messageId;
  }

  /** The flags of the mail with this Message-ID in the agent's INBOX. */
  async flagsOf(messageId: string): Promise<Set<string>> {
    return this.imap(async (c) => {
      await c.mailboxOpen('INBOX');
      const uids = (await c.search({ header: { 'message-id': messageId } }, { uid: true })) || [];
      if (!uids.length) throw new Error(`no mail ${messageId} in INBOX`);
      const msg = await c.fetchOne(String(uids[0]), { flags: true }, { uid: true });
      return msg ? msg.flags ?? new Set() : new Set();
    });
  }

  /** The next mail the SMTP server takes, in order (one taken before this is asked for counts). */
  nextSent(timeoutMs = 60_000): Promise<SentMail> {
    if (this.handed < this.sent.length) return Promise.resolve(this.sent[this.handed++]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no mail was sent within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push(() => { clearTimeout(timer); resolve(this.sent[this.handed++]); });
    });
  }

  async close(): Promise<void> {
    await this.stopDovecot();
    await new Promise<void>((r) => this.smtp.close(() => r()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
