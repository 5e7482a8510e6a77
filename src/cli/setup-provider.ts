import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { NAME, type ProviderSettings } from '../config/engines.ts';
import { ensureHome, resolveHome } from '../config/home.ts';
import { loadConfig } from '../config/load.ts';
import { Providers } from '../config/providers.ts';
import { ConfigSchema } from '../config/schema.ts';
import { Secrets } from '../config/secrets.ts';
import { configuredChains, planProblem } from '../core/agent-plan.ts';
import { checkEndpoint, listModels } from './provider-check.ts';

/** A known service or local server: what `--groq` or `--ollama` fills in. */
interface Preset {
  kind: 'anthropic' | 'openai';
  baseUrl: string;
  /** Unset: asked, given with --model, or the one model the server lists. */
  model?: string;
  /** A local server that takes no key. */
  keyless?: boolean;
  contextTokens?: number;
  /** Where the key is made, shown when it is asked for. */
  keyPage?: string;
}

const PRESETS: Record<string, Preset> = {
  anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', model: 'claude-sonnet-4-5', contextTokens: 200_000, keyPage: 'https://console.anthropic.com/settings/keys' },
  openai: { kind: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4.1-mini', keyPage: 'https://platform.openai.com/api-keys' },
  openrouter: { kind: 'openai', baseUrl: 'https://openrouter.ai/api/v1', model: 'anthropic/claude-sonnet-4.5', keyPage: 'https://openrouter.ai/settings/keys' },
  groq: { kind: 'openai', baseUrl: 'https://api.groq.com/openai/v1', model: 'llama-3.3-70b-versatile', keyPage: 'https://console.groq.com/keys' },
  together: { kind: 'openai', baseUrl: 'https://api.together.xyz/v1', model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', keyPage: 'https://api.together.ai/settings/api-keys' },
  ollama: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2', keyless: true },
  lmstudio: { kind: 'openai', baseUrl: 'http://127.0.0.1:1234/v1', keyless: true },
  vllm: { kind: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', keyless: true },
};
const PRESET_NAMES = Object.keys(PRESETS);

/** The flags of `nanoclaw setup provider` as commander hands them over. */
export interface SetupProviderOptions {
  name?: string;
  kind?: string;
  baseUrl?: string;
  model?: string;
  keyFromEnv?: string;
  local?: boolean;
  use?: boolean;
  /** False with --no-check. */
  check?: boolean;
  [preset: string]: unknown;
}

/**
 * Declares the provider flags on the `setup` command, which also serves
 * `setup <channel>`; `providerFlagsGiven` lets the channel path refuse them.
 *
 *   addProviderOptions(program.command('setup <what>'));
 */
export function addProviderOptions(cmd: Command): Command {
  cmd.optionsGroup('Options of `setup provider`:')
    .option('--name <name>', 'the provider\'s name in config.json (a-z, 0-9, "-"; default: the preset\'s)')
    .option('--kind <kind>', 'wire format: anthropic (Messages API) or openai (OpenAI-compatible Chat Completions)')
    .option('--base-url <url>', 'API root: without /v1 for anthropic, up to and including /v1 for openai')
    .option('--model <id>', 'model id sent with each request')
    .option('--key-from-env <VAR>', 'take the key from this environment variable (otherwise asked, or read from stdin when piped)')
    .option('--local', 'a server that needs no key')
    .option('--use', 'make it the first choice: agent.engine "builtin", this provider first in agent.providers')
    .option('--no-check', 'save without asking the endpoint');
  for (const name of PRESET_NAMES) {
    const p = PRESETS[name];
    cmd.option(`--${name}`, `preset: ${p.kind} at ${p.baseUrl}${p.model ? `, model ${p.model}` : ''}${p.keyless ? ', no key' : ''}`);
  }
  return cmd;
}

/** The provider flags present in `opts`, as typed (e.g. ['--ollama', '--model']). */
export function providerFlagsGiven(opts: Record<string, unknown>): string[] {
  const keys = ['name', 'kind', 'baseUrl', 'model', 'keyFromEnv', 'local', 'use', ...PRESET_NAMES];
  const flags = keys.filter((k) => opts[k] !== undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  return opts.check === false ? [...flags, '--no-check'] : flags;
}

/**
 * `nanoclaw setup provider`: adds (or updates) one model provider. In a
 * terminal it asks for what the flags leave open; in a script every answer
 * comes from flags and the key from stdin or `--key-from-env`:
 *
 *   printf %s "$GROQ_API_KEY" | nanoclaw setup provider --groq --use
 *   nanoclaw setup provider --ollama --model qwen2.5:7b
 *
 * The key goes to secrets.json (mode 0600) as `<NAME>_API_KEY`; the provider
 * goes to config.json (read, changed, replaced atomically; nothing else in it
 * changes). Then the endpoint is asked as `nanoclaw doctor` asks it; a failed
 * check keeps what was saved and exits 1.
 */
export async function runSetupProvider(opts: SetupProviderOptions): Promise<void> {
  const presets = PRESET_NAMES.filter((n) => opts[n] === true);
  if (presets.length > 1) throw new Error(`choose one preset, not ${presets.map((p) => `--${p}`).join(' and ')}.`);
  if (opts.local && opts.keyFromEnv) throw new Error('--local means no key; leave out --key-from-env, or --local.');
  const layout = ensureHome(resolveHome());
  const out = process.stdout;
  const prompt = process.stdin.isTTY ? new Prompt() : undefined;
  try {
    let presetName = presets[0];
    if (!presetName && prompt && !opts.kind && !opts.baseUrl) {
      out.write(`Presets: ${PRESET_NAMES.join(', ')}; or "other" for any OpenAI- or Anthropic-compatible endpoint.\n`);
      const answer = (await prompt.ask('Which provider', 'ollama')).toLowerCase();
      if (answer !== 'other') {
        if (!PRESETS[answer]) throw new Error(`unknown preset "${answer}"; choose one of ${PRESET_NAMES.join(', ')} or "other".`);
        presetName = answer;
      }
    }
    const preset: Partial<Preset> = presetName ? PRESETS[presetName] : {};

    const name = opts.name ?? (presetName && !prompt ? presetName : await ask(prompt, 'Name for it in config.json', presetName));
    if (!name) throw new Error('a provider needs a name: --name <name> (a-z, 0-9 and "-", e.g. groq or local-ollama).');
    if (!NAME.test(name)) throw new Error(`"${name}" cannot be a provider name: use 1 to 32 of a-z, 0-9 and "-", starting with a letter or digit (e.g. groq or local-ollama).`);

    const kind = opts.kind ?? preset.kind ?? await ask(prompt, 'Wire format: anthropic or openai', 'openai');
    if (kind !== 'anthropic' && kind !== 'openai') throw new Error(`unknown kind "${kind || '(none)'}": use --kind openai (OpenAI-compatible Chat Completions: OpenAI, OpenRouter, Groq, Together, vLLM, LM Studio, Ollama...) or --kind anthropic (the Messages API).`);

    const baseUrl = opts.baseUrl ?? (presetName && !prompt ? preset.baseUrl : await ask(prompt, kind === 'anthropic' ? 'Base URL (without /v1)' : 'Base URL (up to and including /v1)', preset.baseUrl ?? (kind === 'anthropic' ? 'https://api.anthropic.com' : undefined)));
    if (!baseUrl) throw new Error('a base URL is needed: --base-url <url>, e.g. https://api.groq.com/openai/v1.');
    checkUrl(baseUrl);

    // The key: none for a local server; else from --key-from-env, the terminal, or stdin.
    const keyless = opts.local === true || (preset.keyless === true && !opts.keyFromEnv);
    let key = '';
    if (!keyless) {
      if (opts.keyFromEnv) {
        key = process.env[opts.keyFromEnv] ?? '';
        if (!key) throw new Error(`${opts.keyFromEnv} is empty or not set in the environment; export it, or pipe the key on stdin.`);
      } else if (prompt) {
        key = await prompt.askHidden(`API key for ${name}${preset.keyPage ? ` (${preset.keyPage})` : ''}${presetName ? '' : ', empty for none'}`);
        if (!key && presetName) throw new Error(`${presetName} needs a key (${preset.keyPage}).`);
      } else {
        key = (await readStdin()).split('\n')[0].trim();
        if (!key) throw new Error('no key: pipe it on stdin (printf %s "$KEY" | nanoclaw setup provider ...), name a variable with --key-from-env VAR, or give --local for a server that needs none. Nothing was saved.');
      }
      if (/\s/.test(key)) throw new Error('the key holds a space or a line break; give the key alone.');
    }

    let model = opts.model ?? (prompt ? await ask(prompt, 'Model id', preset.model ?? await onlyModel(kind, baseUrl, key)) : preset.model);
    if (!model) {
      const served = kind === 'openai' ? await listModels(baseUrl, key || undefined) : undefined;
      if (served?.length === 1) model = served[0];
      else throw new Error(`a model id is needed: --model <id>${served?.length ? ` (${baseUrl} lists ${served.slice(0, 10).join(', ')})` : ''}.`);
    }

    const use = opts.use ?? (prompt ? /^y/i.test(await prompt.ask('Make it the first choice for every conversation (builtin engine)? y/n', 'n')) : false);

    // The config this would write, validated before anything is stored.
    const secretName = `${/^[0-9]/.test(name) ? 'PROVIDER_' : ''}${name.toUpperCase().replace(/-/g, '_')}_API_KEY`;
    const file = layout.config;
    const current = readConfigFile(file);
    const next = structuredClone(current) as Record<string, any>;
    next.providers ??= {};
    const before = next.providers[name] as Record<string, unknown> | undefined;
    const { apiKeySecret: _s, apiKeyFile: _f, ...kept } = before ?? {};
    const entry: Record<string, unknown> = { ...kept, kind, baseUrl, model, ...(key ? { apiKeySecret: secretName } : {}) };
    if (preset.contextTokens && entry.contextTokens === undefined) entry.contextTokens = preset.contextTokens;
    next.providers[name] = entry;
    if (use) {
      next.agent ??= {};
      next.agent.engine = 'builtin';
      next.agent.providers = [name, ...((next.agent.providers as string[] | undefined) ?? []).filter((n) => n !== name)];
    }
    const parsed = ConfigSchema.safeParse(next);
    if (!parsed.success) throw new Error(`the provider does not fit: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}. Nothing was saved.`);

    if (key) new Secrets(layout.secrets).set({ [secretName]: key });
    replaceFile(file, JSON.stringify(next, null, 2) + '\n');
    out.write(`${before ? 'Updated' : 'Saved'} provider "${name}" (${kind}, ${baseUrl}, model ${model}) in ${file}`
      + `${key ? `; its key is in ${layout.secrets} as ${secretName} (mode 0600)` : '; no key'}.\n`);

    if (opts.check !== false) {
      const settings = parsed.data.providers[name] as ProviderSettings;
      const r = await checkEndpoint(settings, key || undefined, {
        baseUrlWhere: `providers.${name}.baseUrl`, keyWhere: key ? `${secretName} in ${layout.secrets}` : undefined,
        setupCommand: `nanoclaw setup provider --name ${name}${presetName ? ` --${presetName}` : ` --kind ${kind} --base-url ${baseUrl}`}`,
      });
      out.write(`${r.ok ? '\u2714' : '\u2718'} ${name}: ${r.detail}\n${!r.ok && r.fix ? `    fix: ${r.fix}\n` : ''}`);
      if (!r.ok) {
        out.write('The provider is saved as given; once the above is fixed, `nanoclaw doctor` checks it again.\n');
        process.exitCode = 1;
      }
    }
    out.write(nextSteps(name, use, layout.home));
  } finally {
    prompt?.close();
  }
}

/** What to do next, and any chain that still cannot run (as the gateway would refuse it at start). */
function nextSteps(name: string, used: boolean, home: string): string {
  const lines: string[] = [];
  if (used) lines.push(`Conversations now use the builtin engine with "${name}" first (agent.providers in config.json).`);
  else {
    lines.push('To use it:',
      `  for every conversation: in config.json set "agent": {"engine": "builtin", "providers": ["${name}", ...]} (or run this again with --use)`,
      `  for one conversation: send \`/model builtin ${name}\` in the chat (owner only)`);
  }
  try {
    const config = loadConfig(home);
    const providers = Providers.load(config, new Secrets(`${home}/secrets.json`, process.env));
    for (const { where, plan } of configuredChains(config)) {
      const problem = planProblem(config, providers, plan);
      if (problem) lines.push(`Note: ${where} cannot run yet: ${problem}.`);
    }
  } catch (err) {
    lines.push(`Note: the configuration does not load: ${(err as Error).message}`);
  }
  lines.push('Restart the gateway (`nanoclaw start`) to load it; `nanoclaw doctor` checks every provider.');
  return lines.join('\n') + '\n';
}

function checkUrl(text: string): void {
  let url: URL;
  try { url = new URL(text); } catch {
    throw new Error(`"${text}" is not a URL; give the API root, e.g. https://api.groq.com/openai/v1 or http://127.0.0.1:11434/v1.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${text}" is not an http(s) URL; give the API root, e.g. https://api.openai.com/v1.`);
  if (url.username || url.password) throw new Error('put no credentials in the base URL; the key is given apart (stdin or --key-from-env) and kept in secrets.json.');
}

// A local server that lists one model (vLLM serves one) offers it as the default.
async function onlyModel(kind: string, baseUrl: string, key: string): Promise<string | undefined> {
  if (kind !== 'openai') return undefined;
  const served = await listModels(baseUrl, key || undefined);
  return served?.length === 1 ? served[0] : undefined;
}

function ask(prompt: Prompt | undefined, question: string, fallback?: string): Promise<string | undefined> {
  return prompt ? prompt.ask(question, fallback) : Promise.resolve(fallback);
}

function readConfigFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let value: unknown;
  try { value = JSON.parse(readFileSync(file, 'utf8')); } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); fix it first. Nothing was saved.`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${file} must hold a JSON object; fix it first. Nothing was saved.`);
  return value as Record<string, unknown>;
}

/** Writes a sibling file and renames it over `file`: a reader (a starting gateway) sees the old config or the new one, never half. */
function replaceFile(file: string, text: string): void {
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Questions in a terminal; a key is typed without being shown. */
class Prompt {
  private muted = false;
  private readonly rl: Interface;

  constructor() {
    const output = new Writable({ write: (chunk, _enc, done) => { if (!this.muted) process.stdout.write(chunk); done(); } });
    this.rl = createInterface({ input: process.stdin, output, terminal: true });
  }

  async ask(question: string, fallback?: string): Promise<string> {
    const answer = (await this.rl.question(`${question}${fallback ? ` [${fallback}]` : ''}: `)).trim();
    return answer || fallback || '';
  }

  async askHidden(question: string): Promise<string> {
    process.stdout.write(`${question}: `);
    this.muted = true;
    try {
      return (await this.rl.question('')).trim();
    } finally {
      this.muted = false;
      process.stdout.write('\n');
    }
  }

  close(): void { this.rl.close(); }
}
