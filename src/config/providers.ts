import { readFileSync } from 'node:fs';
import type { ProviderSettings } from './engines.ts';
import type { Config } from './schema.ts';
import type { Secrets } from './secrets.ts';
import type { ProviderSpec } from '../protocol/messages.ts';
import type { ModelPrice } from '../sandbox/pricing.ts';

/** A configured provider with its key, as only the gateway holds it. */
export interface Provider {
  name: string;
  settings: ProviderSettings;
  /** Undefined for a keyless (local) provider, and for one whose key is missing (see `missingKey`). */
  apiKey?: string;
  /** Why a provider that needs a key has none: where it was looked for. */
  missingKey?: string;
}

/** The provider every install has unless the config redefines it: model.baseUrl with ANTHROPIC_API_KEY. */
export const DEFAULT_PROVIDER = 'anthropic';
const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';

/**
 * The model providers of this gateway, by name, with their keys read once at
 * start (from the environment, secrets.json or a key file). The credential
 * proxy gets the routes; containers get only `specs()`: names, kinds and
 * models. A provider whose key is missing is kept, so that `nanoclaw doctor`
 * can say so, but a conversation cannot use it (`check`).
 *
 *   const providers = Providers.load(config, secrets);
 *   providers.check(['anthropic', 'groq']);   // undefined, or what is wrong
 */
export class Providers {
  private constructor(private readonly byName: ReadonlyMap<string, Provider>) {}

  static load(config: Config, secrets: Secrets): Providers {
    const all: Record<string, ProviderSettings> = {
      [DEFAULT_PROVIDER]: {
        kind: 'anthropic', baseUrl: config.model.baseUrl, model: DEFAULT_ANTHROPIC_MODEL, apiKeySecret: 'ANTHROPIC_API_KEY',
        contextTokens: 200_000, maxOutputTokens: 8192,
      },
      ...config.providers,
    };
    const byName = new Map<string, Provider>();
    for (const [name, settings] of Object.entries(all)) byName.set(name, { name, settings, ...readKey(settings, secrets) });
    return new Providers(byName);
  }

  get(name: string): Provider | undefined { return this.byName.get(name); }
  get all(): Provider[] { return [...this.byName.values()]; }

  /** Why a chain cannot be used (an unknown provider, a missing key), or undefined when it can. */
  check(chain: readonly string[]): string | undefined {
    for (const name of chain) {
      const p = this.byName.get(name);
      if (!p) return `provider "${name}" is not configured (known: ${[...this.byName.keys()].join(', ')}); add it under "providers" in config.json or with \`nanoclaw setup provider\``;
      if (p.missingKey) return `provider "${name}" has no API key: ${p.missingKey}`;
    }
    return undefined;
  }

  /** What the runner is told of a chain: no keys, no upstream addresses. */
  specs(chain: readonly string[]): ProviderSpec[] {
    return chain.flatMap((name) => {
      const p = this.byName.get(name);
      if (!p) return [];
      const s = p.settings;
      return [{ name, kind: s.kind, model: s.model, contextTokens: s.contextTokens, maxOutputTokens: s.maxOutputTokens }];
    });
  }

  /** The credential proxy's routes: every provider with a usable key. */
  routes(): Array<{ name: string; kind: 'anthropic' | 'openai'; upstream: string; apiKey?: string }> {
    return this.all.filter((p) => !p.missingKey).map((p) => ({ name: p.name, kind: p.settings.kind, upstream: p.settings.baseUrl, ...(p.apiKey ? { apiKey: p.apiKey } : {}) }));
  }

  /** Prices the operator set on providers, for the budget (cache prices default to the input price). */
  prices(): Map<string, ModelPrice> {
    const out = new Map<string, ModelPrice>();
    for (const p of this.all) {
      const pr = p.settings.prices;
      if (pr) out.set(p.name, { input: pr.input, output: pr.output, cacheWrite: pr.cacheWrite ?? pr.input, cacheRead: pr.cacheRead ?? pr.input });
    }
    return out;
  }
}

function readKey(s: ProviderSettings, secrets: Secrets): { apiKey?: string; missingKey?: string } {
  if (s.apiKeyFile) {
    try {
      const key = readFileSync(s.apiKeyFile, 'utf8').split('\n')[0].trim();
      return key ? { apiKey: key } : { missingKey: `the key file ${s.apiKeyFile} is empty` };
    } catch (err) {
      return { missingKey: `the key file ${s.apiKeyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
  }
  if (s.apiKeySecret) {
    const key = secrets.get(s.apiKeySecret);
    return key ? { apiKey: key } : { missingKey: `${s.apiKeySecret} is set neither in the environment nor in secrets.json (\`nanoclaw setup provider\` stores one)` };
  }
  return {};
}
