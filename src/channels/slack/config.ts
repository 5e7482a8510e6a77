import { z } from 'zod';

/**
 * `channels.slack`: a Slack app. Tokens live in secrets.json (set by `nanoclaw setup slack`):
 * SLACK_BOT_TOKEN always, SLACK_APP_TOKEN for mode "socket", SLACK_SIGNING_SECRET for mode "http".
 */
export const SlackChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Slack app (`nanoclaw setup slack` sets this and stores the tokens).'),
  apiBaseUrl: z.url().default('https://slack.com/api/').describe('Slack Web API base URL: https://slack-gov.com/api/ for GovSlack, or a stand-in.'),
  mode: z.enum(['socket', 'http']).default('socket')
    .describe('How events arrive: "socket" opens an outbound Socket Mode websocket (app token SLACK_APP_TOKEN; works behind NAT, no public address needed); "http" has Slack POST them to the listener below (signing secret SLACK_SIGNING_SECRET; needs a public HTTPS URL in front of it).'),
  http: z.strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Address the events listener binds to (mode "http").'),
    port: z.number().int().min(0).max(65535).default(3000).describe('Port the events listener binds to (mode "http"); 0 picks a free one.'),
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'expected a path starting with "/"').default('/slack/events')
      .describe('Path the events listener answers on (mode "http"): give Slack this as both the Event Subscriptions and the Interactivity request URL; other paths get 404.'),
  }).prefault({}).describe('The events listener (mode "http"). Every request must carry a valid X-Slack-Signature made with the signing secret, at most 5 minutes old.'),
}).prefault({});
