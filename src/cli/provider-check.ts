import type { ProviderSettings } from '../config/engines.ts';

/** What a provider's endpoint said, as a doctor line: `detail` never holds the key. */
export interface EndpointCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Where a provider's settings and key come from, so a fix can name the place to change. */
export interface ProviderOrigin {
  /** The config path of its base URL, e.g. `providers.groq.baseUrl` or `model.baseUrl / ANTHROPIC_BASE_URL`. */
  baseUrlWhere: string;
  /** Where its key was found, e.g. `GROQ_API_KEY in secrets.json`; undefined for a keyless provider. */
  keyWhere?: string;
  /** What to run to store a different key or URL, e.g. `nanoclaw setup provider --name groq`. */
  setupCommand: string;
}

/**
 * Asks a provider's endpoint one cheap authenticated question, the one each
 * API can answer without spending tokens: Anthropic `POST /v1/messages/count_tokens`
 * (x-api-key, anthropic-version), OpenAI-compatible `GET <baseUrl>/models`
 * (Bearer; OpenAI, OpenRouter, Groq, Together, vLLM, LM Studio and Ollama all
 * serve it). A refused key, an unreachable server, a wrong base URL and a model
 * the server does not serve each get their own line and fix.
 *
 *   const r = await checkEndpoint(settings, key, { baseUrlWhere: 'providers.groq.baseUrl', keyWhere: 'GROQ_API_KEY in secrets.json', setupCommand: 'nanoclaw setup provider --groq' });
 *   // { ok: false, detail: 'https://api.groq.com/openai/v1 answered 401: the key was refused (Invalid API Key)', fix: '...' }
 */
export async function checkEndpoint(settings: ProviderSettings, apiKey: string | undefined, origin: ProviderOrigin,
  signal: AbortSignal = AbortSignal.timeout(8000)): Promise<EndpointCheck> {
  const root = settings.baseUrl.replace(/\/+$/, '');
  const hide = (text: string) => (apiKey ? text.split(apiKey).join('***') : text);
  let res: Response;
  try {
    res = settings.kind === 'anthropic'
      ? await fetch(`${root}/v1/messages/count_tokens`, {
        method: 'POST', signal, redirect: 'manual',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...(apiKey ? { 'x-api-key': apiKey } : {}) },
        body: JSON.stringify({ model: settings.model, messages: [{ role: 'user', content: 'ping' }] }),
      })
      : await fetch(`${root}/models`, { signal, redirect: 'manual', headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  } catch (err) {
    return { ok: false, detail: `${settings.baseUrl} unreachable (${hide(networkReason(err))})`, fix: unreachableFix(settings, origin) };
  }
  const status = res.status;
  const text = await res.text().catch(() => '');
  const said = hide(errorMessage(text));
  const answered = `${settings.baseUrl} answered ${status}`;

  if (status === 401 || status === 403) {
    if (apiKey) return { ok: false, detail: `${answered}: the key was refused${said ? ` (${said})` : ''}`, fix: `check ${origin.keyWhere ?? 'the key'}; store the right one with \`${origin.setupCommand}\`` };
    return { ok: false, detail: `${answered}: it wants a key and none was sent${said ? ` (${said})` : ''}`, fix: `give it a key: \`${origin.setupCommand}\` (a key on stdin or --key-from-env VAR)` };
  }
  if (status === 402 || (status === 429 && /insufficient_quota|spend_limit|credit/i.test(text))) {
    return { ok: false, detail: `${answered}: the account is out of credit or quota${said ? ` (${said})` : ''}`, fix: 'add credit or raise the spend limit in the provider\'s console, or put another provider first in agent.providers' };
  }
  if (status === 429) return { ok: true, detail: `${answered}: the key was accepted (rate-limited right now)` };
  if (status === 404) {
    return { ok: false, detail: `${answered} to ${settings.kind === 'anthropic' ? 'POST /v1/messages/count_tokens' : 'GET /models'}${said ? ` (${said})` : ''}`,
      fix: settings.kind === 'anthropic'
        ? `check ${origin.baseUrlWhere} (an "anthropic" base URL has no /v1, e.g. https://api.anthropic.com) and the model id "${settings.model}"`
        : `check ${origin.baseUrlWhere}: an OpenAI-compatible base URL ends where /chat/completions would follow, usually in /v1 (http://127.0.0.1:11434/v1 for Ollama)` };
  }
  if (status >= 300 && status < 400) {
    return { ok: false, detail: `${answered}: a redirect to ${res.headers.get('location') ?? 'elsewhere'}`, fix: `set ${origin.baseUrlWhere} to the address the API really serves (keys are not sent along redirects)` };
  }
  if (status >= 500) return { ok: false, detail: `${answered}${said ? ` (${said})` : ''}: the service has trouble`, fix: 'try again later; check the provider\'s status page or the local server\'s log' };
  if (status >= 400) return { ok: false, detail: `${answered}${said ? `: ${said}` : ''}`, fix: `check the model id "${settings.model}" and ${origin.baseUrlWhere}` };

  if (settings.kind === 'anthropic') return { ok: true, detail: `${answered}` };
  const served = modelIds(text);
  if (!served?.length) return { ok: true, detail: `${answered}` };
  if (served.some((id) => sameModel(id, settings.model))) return { ok: true, detail: `${answered}; it serves ${settings.model}` };
  const listed = served.length > 8 ? `${served.slice(0, 8).join(', ')}, ... (${served.length} in all)` : served.join(', ');
  return {
    ok: false, detail: `${answered}, but it does not serve the model "${settings.model}" (it lists ${listed})`,
    fix: isLocal(settings.baseUrl) && new URL(settings.baseUrl).port === '11434'
      ? `fetch the model: \`ollama pull ${settings.model}\`, or choose one it has`
      : 'choose one of the models it lists (`nanoclaw setup provider --name <name> --model <id>` again, or edit the model in config.json)',
  };
}

/**
 * The model ids an OpenAI-compatible server lists (`GET <baseUrl>/models`),
 * or undefined when it cannot say. Used to offer a model when none was given.
 *
 *   await listModels('http://127.0.0.1:8000/v1');   // ['Qwen/Qwen2.5-7B-Instruct']
 */
export async function listModels(baseUrl: string, apiKey?: string, signal: AbortSignal = AbortSignal.timeout(8000)): Promise<string[] | undefined> {
  try {
    const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/models`, { signal, redirect: 'manual', headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
    return res.ok ? modelIds(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}

/** A loopback address: a server on this machine (Ollama, LM Studio, vLLM), which must be running. */
export function isLocal(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

function unreachableFix(settings: ProviderSettings, origin: ProviderOrigin): string {
  if (isLocal(settings.baseUrl)) {
    return `start the server (Ollama: \`ollama serve\`; LM Studio: its local server; vLLM: \`vllm serve <model>\`), or correct ${origin.baseUrlWhere}`;
  }
  return `check the network and ${origin.baseUrlWhere}`;
}

// Ollama lists "llama3.2:latest" and answers to "llama3.2" as well.
function sameModel(listed: string, wanted: string): boolean {
  return listed === wanted || listed === `${wanted}:latest`;
}

function modelIds(text: string): string[] | undefined {
  try {
    const body = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
    return Array.isArray(body.data) ? body.data.map((m) => m?.id).filter((id): id is string => typeof id === 'string') : undefined;
  } catch {
    return undefined;
  }
}

/** The error message of an Anthropic or OpenAI error body, else the start of the text (a proxy's page). */
function errorMessage(text: string): string {
  if (!text) return '';
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof body.error === 'string' ? body.error : body.error?.message ?? body.message;
    if (typeof m === 'string') return m.slice(0, 200);
    return '';
  } catch {
    return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
  }
}

function networkReason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer in time';
  // fetch never connects to ports browsers block (6000, 6667, ...), whatever listens there.
  if (e.cause?.message === 'bad port') return 'fetch refuses to connect to this port; move the server to another one';
  return e.cause?.message ?? e.cause?.code ?? e.message;
}
