import type { ChatChannelModule } from '../registry.ts';
import { GmailChannel } from './channel.ts';
import { checkGmail, gmailCredentials } from './check.ts';
import { linkGmail } from './oauth.ts';

export { GmailChannel } from './channel.ts';
export { GMAIL_SCOPES, linkGmail } from './oauth.ts';

/**
 * The Gmail channel: the user's own Google Cloud OAuth client, read and send
 * scopes only, new mail found by polling the mailbox history.
 *
 *   const channel = gmail.createChannel({ config: config.channels.gmail, secrets, log });
 *   await gateway.startChannel(channel);
 */
export const gmail: ChatChannelModule<'gmail'> = {
  createChannel({ config, secrets, log }) {
    const creds = gmailCredentials(secrets);
    if ('missing' in creds) throw new Error(`channels.gmail is enabled but ${creds.missing} is not set: run \`nanoclaw setup gmail\``);
    return new GmailChannel(config, creds, log);
  },
  check: checkGmail,
  setup: {
    intro: [
      'In the Google Cloud console (https://console.cloud.google.com), create a project (or pick one) and enable the Gmail API (APIs & Services > Library > Gmail API).',
      'Configure the OAuth consent screen (Google Auth Platform > Branding / Audience): user type External, and add the Gmail address the agent will read as a test user.',
      'Under Data Access, add the scopes .../auth/gmail.readonly and .../auth/gmail.send (read and send only: the agent cannot delete, label or archive mail).',
      'Create an OAuth client (Clients > Create client) of type "Desktop app", and copy its client ID and client secret.',
      'Next, a browser page asks you to allow access; NanoClaw waits for it on 127.0.0.1 and stores the refresh token in secrets.json (mode 0600).',
      'While the app is in "Testing" mode, Google expires its refresh tokens after 7 days: the channel then reports invalid_grant in `nanoclaw status`. Run `nanoclaw setup gmail` again, or publish the app (Audience > Publish app; for your own use no verification is needed to keep working, only an "unverified app" warning).',
      'Only mail from addresses listed as "gmail:<address>" in access.owners reaches the agent; mail from anyone else is audited and never answered.',
    ],
    secrets: [
      { name: 'GMAIL_CLIENT_ID', prompt: 'OAuth client ID', pattern: /^[\w.-]+\.apps\.googleusercontent\.com$/, hint: 'It ends in .apps.googleusercontent.com (Google Cloud console > Clients).' },
      { name: 'GMAIL_CLIENT_SECRET', prompt: 'OAuth client secret', pattern: /^[\w-]{10,}$/, hint: 'Shown next to the client ID, usually starting GOCSPX-.' },
    ],
    async link(ctx) {
      // A refresh token given in the environment (scripts, tests) is used as it is.
      if (process.env.GMAIL_REFRESH_TOKEN) return;
      const clientId = ctx.secrets.get('GMAIL_CLIENT_ID');
      const clientSecret = ctx.secrets.get('GMAIL_CLIENT_SECRET');
      if (!clientId || !clientSecret) throw new Error('GMAIL_CLIENT_ID and GMAIL_CLIENT_SECRET are needed first: run `nanoclaw setup gmail` again');
      const config = ctx.config as { oauthTokenUrl: string };
      return linkGmail(ctx, { clientId, clientSecret, tokenUrl: config.oauthTokenUrl });
    },
  },
};
