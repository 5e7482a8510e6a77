import { z } from 'zod';

/**
 * `channels.plugins`: channels that do not ship with NanoClaw, each a module
 * (a file or an installed package) loaded at start (channels/plugins.ts).
 * Each plugin's `options` are checked by the plugin's own schema, not here.
 */
export const ChannelPluginsConfig = z.array(z.strictObject({
  module: z.string().min(1).describe('A file path (absolute, or relative to NANOCLAW_HOME) or an installed package name.'),
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a lowercase channel name like "webhook" (letters, digits, dashes)')
    .describe('The channel\'s name: the first part of its conversations ("webhook:chat"), of owners and groups in access.*, and of attachments.maxBytesByChannel.'),
  options: z.record(z.string(), z.unknown()).default({}).describe('The plugin\'s own options, validated by its configSchema.'),
})).default([])
  .describe('Channel plugins loaded at start: [{"module": "./channels/webhook/index.js", "name": "webhook", "options": {...}}]. A plugin runs inside the gateway process with all of its rights: load only code you trust (docs/channels/plugins.md).');

export type ChannelPluginEntry = z.infer<typeof ChannelPluginsConfig>[number];
