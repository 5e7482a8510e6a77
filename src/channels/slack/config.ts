import { z } from 'zod';

/** `channels.slack`: a Slack app (tokens in secrets.json as SLACK_BOT_TOKEN and SLACK_APP_TOKEN, set by `nanoclaw setup slack`). */
export const SlackChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Slack app (`nanoclaw setup slack` sets this and stores the tokens).'),
  apiBaseUrl: z.url().default('https://slack.com/api/').describe('Slack Web API base URL: https://slack-gov.com/api/ for GovSlack, or a stand-in.'),
}).prefault({});
