import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ensureHome, resolveHome } from '../config/home.ts';
import { ConfigSchema } from '../config/schema.ts';
import { Secrets } from '../config/secrets.ts';
import { CHAT_CHANNEL_NAMES, loadChatChannel, type ChatChannelName } from '../channels/registry.ts';

/**
 * `nanoclaw setup <channel>`: explains what to create on the service, asks
 * for the credentials (or takes them from the environment, for scripts:
 * `TELEGRAM_BOT_TOKEN=... nanoclaw setup telegram`), checks them against the
 * service, and only then stores them (secrets.json, mode 0600) and enables
 * the channel in config.json. Nothing is written when the check fails.
 */
export async function runSetupChannel(name: string, opts: { option?: string[] } = {}): Promise<void> {
  if (!(CHAT_CHANNEL_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown channel "${name}"; \`nanoclaw setup\` knows ${CHAT_CHANNEL_NAMES.join(', ')}, and \`provider\` for a model provider.`);
  }
  const channel = name as ChatChannelName;
  const layout = ensureHome(resolveHome());
  const module = await loadChatChannel(channel);
  const out = process.stdout;
  out.write(`Setting up ${channel}:\n${module.setup.intro.map((l, i) => `  ${i + 1}. ${l}`).join('\n')}\n\n`);

  const rl = process.stdin.isTTY ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
  const ask = async (prompt: string, fallback?: string): Promise<string> => {
    if (!rl) return fallback ?? '';
    const answer = (await rl.question(`${prompt}${fallback ? ` [${fallback}]` : ''}: `)).trim();
    return answer || fallback || '';
  };
  try {
    const given = Object.fromEntries((opts.option ?? []).map((o) => { const i = o.indexOf('='); return [o.slice(0, i), o.slice(i + 1)]; }));
    // Every --option given (the schema checks it below), then the module's questions for the rest.
    const raw: Record<string, string> = { ...given };
    for (const o of module.setup.options ?? []) if (!(o.key in raw)) raw[o.key] = await ask(o.prompt, o.default);
    const options = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== '')
      .map(([k, v]) => [k, /^(true|false)$/.test(v) ? v === 'true' : /^\d+$/.test(v) ? Number(v) : v]));
    const secrets: Record<string, string> = {};
    for (const s of module.setup.secrets) {
      if (s.when && !s.when(options)) continue;
      const value = process.env[s.name] || await ask(s.prompt);
      if (!value) throw new Error(`${s.name} is needed: set it in the environment or run this in a terminal to be asked.${s.hint ? ` ${s.hint}` : ''}`);
      if (s.pattern && !s.pattern.test(value)) throw new Error(`that does not look like a ${s.name}.${s.hint ? ` ${s.hint}` : ''}`);
      secrets[s.name] = value;
    }

    // The config this would write, validated before anything is stored.
    const file = layout.config;
    const current = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    const next = structuredClone(current);
    next.channels ??= {};
    next.channels[channel] = { ...(next.channels[channel] ?? {}), ...options, enabled: true };
    const parsed = ConfigSchema.safeParse(next);
    if (!parsed.success) throw new Error(`the options do not fit: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}. Nothing was saved.`);
    if (module.setup.link) {
      const dataDir = join(layout.channels, channel);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const linked = await module.setup.link({
        config: parsed.data.channels[channel], secrets: new Secrets(layout.secrets, { ...process.env, ...secrets }), dataDir, ask, out,
        signal: AbortSignal.timeout(10 * 60_000),
      });
      Object.assign(secrets, linked ?? {});
    }
    const check = await module.check({ config: parsed.data.channels[channel] as never, secrets: new Secrets(layout.secrets, { ...process.env, ...secrets }), signal: AbortSignal.timeout(15_000) });
    if (!check.ok) throw new Error(`${check.detail}${check.fix ? `\n  to fix: ${check.fix}` : ''}\nNothing was saved.`);
    out.write(`${check.detail}\n`);
    new Secrets(layout.secrets).set(secrets);
    writeFileSync(file, JSON.stringify(next, null, 2) + '\n');
    out.write(`Saved: ${channel} is enabled in ${file}, its credentials are in ${layout.secrets} (mode 0600). Restart the gateway (\`nanoclaw start\`) to connect it.\n`);
  } finally {
    rl?.close();
  }
}
