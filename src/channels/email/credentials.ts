import type { Config } from '../../config/schema.ts';
import type { Secrets } from '../../config/secrets.ts';

/** The secret holding the mailbox password (an app password where the provider has them). */
export const PASSWORD = 'EMAIL_PASSWORD';
/** The secret holding an OAuth2 access token for XOAUTH2 (`auth: "oauth2"`). */
export const OAUTH_TOKEN = 'EMAIL_OAUTH_TOKEN';

/** How both clients log in: a password, or an XOAUTH2 access token. */
export type MailAuth = { user: string; pass: string } | { user: string; accessToken: string };

/**
 * The login for IMAP and SMTP from the config and the secrets, or what is
 * missing and how to set it. The access token is read from the secrets each
 * time a connection is made, so a token renewed in the secrets (or the
 * environment of a restarted gateway) is taken up on the next reconnect.
 *
 *   const auth = mailAuth(config, secrets);
 *   if ('missing' in auth) log.error(auth.missing);
 */
export function mailAuth(config: Config['channels']['email'], secrets: Secrets): MailAuth | { missing: string; fix: string } {
  if (!config.user) return { missing: 'channels.email.user is not set', fix: 'run `nanoclaw setup email`, or set channels.email.user to the mailbox login (usually the address)' };
  if (config.auth === 'oauth2') {
    const accessToken = secrets.get(OAUTH_TOKEN);
    if (!accessToken) return { missing: `no OAuth2 access token (${OAUTH_TOKEN}) is set`, fix: `put a current access token for ${config.user} in ${OAUTH_TOKEN} (secrets.json or the environment)` };
    return { user: config.user, accessToken };
  }
  const pass = secrets.get(PASSWORD);
  if (!pass) return { missing: `no mailbox password (${PASSWORD}) is set`, fix: 'run `nanoclaw setup email` (use an app password where your provider offers them)' };
  return { user: config.user, pass };
}

/** The auth object nodemailer takes for the same login. */
export function smtpAuth(auth: MailAuth): { type: 'login'; user: string; pass: string } | { type: 'OAuth2'; user: string; accessToken: string } {
  return 'pass' in auth ? { type: 'login', user: auth.user, pass: auth.pass } : { type: 'OAuth2', user: auth.user, accessToken: auth.accessToken };
}
