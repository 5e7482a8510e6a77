import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { Config } from '../../config/schema.ts';
import type { Secrets } from '../../config/secrets.ts';
import type { CheckResult } from '../registry.ts';
import { tlsMode } from './config.ts';
import { mailAuth, smtpAuth } from './credentials.ts';

/**
 * Logs in to both servers with the configured credentials, opens the watched
 * folder, and says which part failed and what to change.
 *
 *   await checkEmail(config.channels.email, secrets); // { ok: true, detail: 'IMAP … and SMTP … accept me@example.com' }
 */
export async function checkEmail(config: Config['channels']['email'], secrets: Secrets, signal?: AbortSignal): Promise<CheckResult> {
  if (!config.imapHost || !config.smtpHost) return { ok: false, detail: 'channels.email.imapHost and channels.email.smtpHost must both be set', fix: 'run `nanoclaw setup email`; your provider\'s help pages name its IMAP and SMTP servers' };
  const auth = mailAuth(config, secrets);
  if ('missing' in auth) return { ok: false, detail: auth.missing, fix: auth.fix };
  const loginFix = config.auth === 'oauth2'
    ? 'put a current access token in EMAIL_OAUTH_TOKEN (the provider must allow IMAP/SMTP with OAuth2 for your client)'
    : 'check channels.email.user and EMAIL_PASSWORD; providers with two-step verification (Gmail, iCloud, Fastmail, Yahoo) need an app password here, not the account password';
  const imapTls = tlsMode(config.imapHost, config.imapPort, config.imapTls, 993);
  const imap = new ImapFlow({ host: config.imapHost, port: config.imapPort, secure: imapTls.secure, doSTARTTLS: imapTls.requireTLS || undefined, auth, logger: false, connectionTimeout: 20_000 });
  imap.on('error', () => {});
  const abort = () => imap.close();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    await imap.connect();
    await imap.mailboxOpen(config.mailbox, { readOnly: true });
    await imap.logout();
  } catch (err) {
    imap.close();
    const e = err as Error & { authenticationFailed?: boolean; responseText?: string };
    if (e.authenticationFailed) return { ok: false, detail: `the IMAP server ${config.imapHost} refused the login for ${config.user}${e.responseText ? `: ${e.responseText}` : ''}`, fix: loginFix };
    if (imap.authenticated) return { ok: false, detail: `the folder "${config.mailbox}" could not be opened: ${e.responseText ?? e.message}`, fix: 'set channels.email.mailbox to an existing folder (INBOX is always there)' };
    return { ok: false, detail: `the IMAP server ${config.imapHost}:${config.imapPort} could not be reached: ${e.message}`, fix: 'check channels.email.imapHost, imapPort and imapTls and the network' };
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  const smtp = nodemailer.createTransport({
    host: config.smtpHost, port: config.smtpPort,
    ...tlsMode(config.smtpHost, config.smtpPort, config.smtpTls, 465),
    auth: smtpAuth(auth), connectionTimeout: 20_000,
  });
  try {
    await smtp.verify();
  } catch (err) {
    const e = err as Error & { code?: string; response?: string };
    if (e.code === 'EAUTH') return { ok: false, detail: `the SMTP server ${config.smtpHost} refused the login for ${config.user}: ${e.response ?? e.message}`, fix: loginFix };
    return { ok: false, detail: `the SMTP server ${config.smtpHost}:${config.smtpPort} did not work: ${e.message}`, fix: 'check channels.email.smtpHost, smtpPort and smtpTls and the network' };
  } finally {
    smtp.close();
  }
  return { ok: true, detail: `IMAP ${config.imapHost} (folder ${config.mailbox}) and SMTP ${config.smtpHost} accept ${config.user}.` };
}
