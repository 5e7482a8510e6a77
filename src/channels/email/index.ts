import type { ChatChannelModule } from '../registry.ts';
import { EmailChannel } from './channel.ts';
import { checkEmail } from './check.ts';
import { PASSWORD } from './credentials.ts';

export { EmailChannelConfig } from './config.ts';
export { EmailChannel } from './channel.ts';
export { trimQuoted } from './parse.ts';

/**
 * The email channel for the registry: built from `channels.email` and the
 * EMAIL_PASSWORD (or EMAIL_OAUTH_TOKEN) secret; `check` logs in to both
 * servers; `setup` asks for the servers and the password.
 *
 *   const channel = email.createChannel({ config: config.channels.email, secrets, log });
 */
export const email: ChatChannelModule<'email'> = {
  createChannel({ config, secrets, log }) {
    return new EmailChannel({ config, secrets, log });
  },
  check({ config, secrets, signal }) {
    return checkEmail(config, secrets, signal);
  },
  setup: {
    intro: [
      'Use a mailbox of its own for the agent if you can (a new address, or an alias with its own folder): the agent reads every new mail in the watched folder.',
      'Find your provider\'s IMAP and SMTP servers (e.g. Fastmail: imap.fastmail.com:993 and smtp.fastmail.com:465; Outlook.com: outlook.office365.com:993 and smtp-mail.outlook.com:587 with STARTTLS).',
      'Where the account has two-step verification, create an app password for NanoClaw in the provider\'s security settings and give that below, not the account password.',
      'Only you (access.owners, e.g. "email:you@example.com") and senders you approved reach the agent; mail from anyone else is ignored, never answered. For Gmail, prefer `nanoclaw setup gmail`: IMAP there needs full access to the mailbox.',
    ],
    secrets: [{ name: PASSWORD, prompt: 'Mailbox password (an app password where your provider has them)', pattern: /^\S.{2,}$/, hint: 'The password must not be empty or start with a space.' }],
    options: [
      { key: 'user', prompt: 'Login (usually the full address)' },
      { key: 'imapHost', prompt: 'IMAP server' },
      { key: 'imapPort', prompt: 'IMAP port (993 TLS, 143 STARTTLS)', default: '993' },
      { key: 'smtpHost', prompt: 'SMTP server' },
      { key: 'smtpPort', prompt: 'SMTP port (465 TLS, 587 STARTTLS)', default: '465' },
    ],
  },
};
