import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ZodType } from 'zod';
import type { Channel } from './channel.ts';
import type { ChannelPluginEntry } from './plugins-config.ts';
import { CHAT_CHANNEL_NAMES } from './registry.ts';
import type { Secrets } from '../config/secrets.ts';
import type { Logger } from '../core/logger.ts';

/**
 * A channel that does not ship with NanoClaw: what a plugin module exports,
 * as its default export or as `channel`. The gateway checks `options` with
 * `configSchema`, then calls `create` once; the channel it returns is started
 * with its own `ChannelHost`, exactly like a built-in one, and must be named
 * `ctx.name` (the configured name).
 *
 * A plugin runs inside the gateway process, with the gateway's rights: it can
 * read every secret and file the gateway can. Load only code you trust.
 *
 *   const plugin: ChannelPlugin<{ port: number }> = {
 *     name: 'webhook', configSchema: z.object({ port: z.number() }),
 *     create: (options, ctx) => new WebhookChannel(ctx.name, options, ctx.secrets),
 *   };
 *   export default plugin;
 */
export interface ChannelPlugin<Options = any> {
  /** The plugin's own name, for messages (the channel's name comes from the config entry). */
  name: string;
  /** Validates and fills in `channels.plugins[].options`; its errors stop the start, naming the plugin. */
  configSchema: ZodType<Options>;
  /** Builds the channel; nothing should connect before `start`. */
  create(options: Options, ctx: ChannelPluginContext): Channel | Promise<Channel>;
}

/** What a plugin's `create` gets besides its options. */
export interface ChannelPluginContext {
  /** The configured channel name (`channels.plugins[].name`): the channel's `name` must be this. */
  name: string;
  /** secrets.json and the environment (an environment variable wins): `secrets.get('WEBHOOK_SECRET')`. */
  secrets: Secrets;
  log: Logger;
  /** NANOCLAW_HOME, where a relative path in the options is best resolved against. */
  home: string;
}

/** A plugin that cannot be used; the message names it and says what to do. */
export class ChannelPluginError extends Error {
  override name = 'ChannelPluginError';
}

/** Names a plugin may not take: the built-in channels', so conversation keys, owners and limits stay unambiguous. */
const BUILT_IN = new Set<string>(['api', 'terminal', ...CHAT_CHANNEL_NAMES]);

/**
 * Loads every configured plugin and builds its channel, in order. Any
 * problem (a missing file, a module that throws while loading, no plugin
 * export, options its schema refuses, a name taken) throws a
 * ChannelPluginError naming the plugin: the gateway does not start half-way.
 *
 *   for (const ch of await loadChannelPlugins(config.channels.plugins, { home, secrets, log })) gateway.addChannel(ch);
 */
export async function loadChannelPlugins(entries: ChannelPluginEntry[], ctx: Omit<ChannelPluginContext, 'name'>): Promise<Channel[]> {
  const taken = new Set<string>();
  const channels: Channel[] = [];
  for (const entry of entries) {
    const label = `channel plugin "${entry.name}" (${entry.module})`;
    if (BUILT_IN.has(entry.name)) throw new ChannelPluginError(`${label}: "${entry.name}" is a built-in channel's name; give the plugin another name in channels.plugins.`);
    if (taken.has(entry.name)) throw new ChannelPluginError(`${label}: two plugins are named "${entry.name}"; give each its own name in channels.plugins.`);
    taken.add(entry.name);
    const plugin = pluginOf(await importModule(entry.module, ctx.home, label), label);
    const parsed = plugin.configSchema.safeParse(entry.options);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${['options', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
      throw new ChannelPluginError(`${label}: invalid options: ${issues}. Fix channels.plugins in config.json.`);
    }
    let channel: Channel;
    try {
      channel = await plugin.create(parsed.data, { ...ctx, name: entry.name });
    } catch (err) {
      throw new ChannelPluginError(`${label}: create() failed: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    checkChannel(channel, entry.name, label);
    channels.push(namedStart(channel, label));
  }
  return channels;
}

/** A file path (`./x.js`, `/abs/x.js`) is resolved against NANOCLAW_HOME; anything else is a package, looked up from NanoClaw, then from NANOCLAW_HOME. */
async function importModule(spec: string, home: string, label: string): Promise<Record<string, unknown>> {
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  let url: string;
  if (isPath) {
    const file = resolve(home, spec);
    if (!existsSync(file)) throw new ChannelPluginError(`${label}: no file at ${file}. Check channels.plugins[].module (a relative path is resolved against NANOCLAW_HOME, ${home}).`);
    url = pathToFileURL(file).href;
  } else {
    url = spec;
  }
  try {
    return await import(url);
  } catch (err) {
    if (!isPath && (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${spec}'`)) {
      let file: string;
      try {
        file = createRequire(join(home, 'package.json')).resolve(spec);
      } catch {
        throw new ChannelPluginError(`${label}: the package "${spec}" is not installed. Install it next to NanoClaw or in NANOCLAW_HOME (npm install ${spec}), or name the file by its path.`, { cause: err });
      }
      try { return await import(pathToFileURL(file).href); } catch (inner) {
        throw new ChannelPluginError(`${label}: loading it failed: ${(inner as Error)?.message ?? inner}`, { cause: inner });
      }
    }
    throw new ChannelPluginError(`${label}: loading it failed: ${(err as Error)?.message ?? err}`, { cause: err });
  }
}

function pluginOf(mod: Record<string, unknown>, label: string): ChannelPlugin {
  const plugin = (mod.default ?? mod.channel) as Partial<ChannelPlugin> | undefined;
  const missing = !plugin || typeof plugin !== 'object' ? ['a default export (or `channel`)']
    : [typeof plugin.name === 'string' ? '' : 'name', typeof plugin.configSchema?.safeParse === 'function' ? '' : 'configSchema (a zod schema)', typeof plugin.create === 'function' ? '' : 'create()'].filter(Boolean);
  if (missing.length) throw new ChannelPluginError(`${label}: the module is not a channel plugin: it lacks ${missing.join(', ')}. See docs/channels/plugins.md for the contract.`);
  return plugin as ChannelPlugin;
}

function checkChannel(channel: Channel, name: string, label: string): void {
  if (!channel || typeof channel !== 'object') throw new ChannelPluginError(`${label}: create() returned no channel.`);
  const missing = ['start', 'send', 'stop'].filter((m) => typeof (channel as unknown as Record<string, unknown>)[m] !== 'function');
  if (typeof channel.capabilities !== 'object' || channel.capabilities === null) missing.push('capabilities');
  if (missing.length) throw new ChannelPluginError(`${label}: its channel lacks ${missing.join(', ')}. See docs/channels/plugins.md for the contract.`);
  if (channel.name !== name) throw new ChannelPluginError(`${label}: its channel is named "${channel.name}", not "${name}"; a plugin's channel must take the configured name (ctx.name).`);
}

/** A plugin whose start fails stops the gateway's start with an error that names it. */
function namedStart(channel: Channel, label: string): Channel {
  const start = channel.start.bind(channel);
  channel.start = async (host) => {
    try {
      await start(host);
    } catch (err) {
      throw new ChannelPluginError(`${label} could not start: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  };
  return channel;
}
