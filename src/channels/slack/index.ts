/**
 * The Slack channel's module for the registry: build the channel, check the tokens against
 * Slack (`nanoclaw doctor`, `nanoclaw setup slack`), and what setup asks for.
 * docs/channels/slack.md has the app manifest and the step-by-step set-up.
 */
import { WebClient } from '@slack/web-api';
import type { ChatChannelModule, CheckResult } from '../registry.ts';
import { authAction, describeSlackError, isAuthError } from './errors.ts';
import { SlackChannel, type SlackConfig } from './slack-channel.ts';
import type { Secrets } from '../../config/secrets.ts';

export { SlackChannelConfig } from './config.ts';
export { SlackChannel } from './slack-channel.ts';
export { verifySlackSignature, signSlackRequest } from './signature.ts';

/**
 * The Slack channel.
 *
 *   const { slack } = await import('./channels/slack/index.ts');
 *   gateway.addChannel(slack.createChannel({ config: config.channels.slack, secrets, log }));
 */
export const slack: ChatChannelModule<'slack'> = {
  createChannel: (opts) => new SlackChannel(opts),
  check: checkSlack,
  setup: {
    intro: [
      'Open https://api.slack.com/apps, "Create New App" > "From a manifest", pick the workspace and paste the manifest from docs/channels/slack.md (scopes, events, Socket Mode and interactivity in one go).',
      'Basic Information > App-Level Tokens: "Generate Token and Scopes" with the scope connections:write; copy the xapp-... token.',
      'Install App: install it to the workspace and copy the Bot User OAuth Token (xoxb-...).',
      'In Slack, invite the bot to the channels it should answer in (/invite @YourApp) and list them in access.groups as "slack:<channel id>".',
    ],
    secrets: [
      { name: 'SLACK_BOT_TOKEN', prompt: 'Bot User OAuth Token (xoxb-...)', pattern: /^xoxb-[A-Za-z0-9-]+$/, hint: 'It starts with xoxb- (OAuth & Permissions > Bot User OAuth Token).' },
      { name: 'SLACK_APP_TOKEN', prompt: 'App-Level Token with connections:write (xapp-...)', pattern: /^xapp-[A-Za-z0-9-]+$/, hint: 'It starts with xapp- (Basic Information > App-Level Tokens).', when: (o) => o.mode !== 'http' },
      { name: 'SLACK_SIGNING_SECRET', prompt: 'Signing Secret (Basic Information > App Credentials)', pattern: /^[0-9a-f]{32}$/, hint: 'It is 32 hexadecimal characters (Basic Information > App Credentials > Signing Secret).', when: (o) => o.mode === 'http' },
    ],
    options: [{ key: 'mode', prompt: 'Transport: socket (no public address needed) or http (Events API to a public URL)', default: 'socket' }],
  },
};

/**
 * Asks Slack whether the tokens work: auth.test with the bot token, and, in Socket Mode,
 * apps.connections.open with the app token (in HTTP mode, that a signing secret is set).
 *
 *   const { ok, detail, fix } = await slack.check({ config, secrets });
 */
async function checkSlack({ config, secrets, signal }: { config: SlackConfig; secrets: Secrets; signal?: AbortSignal }): Promise<CheckResult> {
  const botToken = secrets.get('SLACK_BOT_TOKEN');
  if (!botToken) return { ok: false, detail: 'SLACK_BOT_TOKEN is not set', fix: 'run `nanoclaw setup slack`' };
  const fetchWithSignal = (url: string | URL | Request, init?: RequestInit) => fetch(url, { ...init, signal });
  const options = { slackApiUrl: config.apiBaseUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 15_000, fetch: fetchWithSignal, logger: quiet as never };
  let who: string;
  try {
    const me = await new WebClient(botToken, options).auth.test();
    who = `the bot ${me.user ?? me.user_id} in ${me.team ?? 'its workspace'}`;
  } catch (err) {
    return failure('bot token (SLACK_BOT_TOKEN)', err, config.apiBaseUrl);
  }
  if (config.mode === 'http') {
    if (!secrets.get('SLACK_SIGNING_SECRET')) return { ok: false, detail: `${who} works, but SLACK_SIGNING_SECRET is not set (channels.slack.mode is "http")`, fix: 'add the signing secret (Basic Information > App Credentials) to secrets.json or the environment as SLACK_SIGNING_SECRET' };
    return { ok: true, detail: `Slack: ${who}; events over HTTP on ${config.http.host}:${config.http.port}${config.http.path}` };
  }
  const appToken = secrets.get('SLACK_APP_TOKEN');
  if (!appToken) return { ok: false, detail: `${who} works, but SLACK_APP_TOKEN is not set (Socket Mode needs it)`, fix: 'run `nanoclaw setup slack` with an app-level token (xapp-..., scope connections:write)' };
  try {
    await new WebClient('', { ...options, headers: { Authorization: `Bearer ${appToken}` } }).apps.connections.open();
  } catch (err) {
    return failure('app token (SLACK_APP_TOKEN)', err, config.apiBaseUrl);
  }
  return { ok: true, detail: `Slack: ${who}; Socket Mode works with the app token` };
}

function failure(what: string, err: unknown, apiBaseUrl: string): CheckResult {
  if (isAuthError(err)) return { ok: false, detail: `Slack refused the ${what}: ${describeSlackError(err)}`, fix: authAction(err) };
  return { ok: false, detail: `could not check the ${what} at ${apiBaseUrl}: ${describeSlackError(err)}`, fix: 'check the network, and channels.slack.apiBaseUrl (https://slack.com/api/, or https://slack-gov.com/api/ for GovSlack)' };
}

const quiet = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => 'error', setName() {} };
