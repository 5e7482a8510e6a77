/**
 * Which provider a container's model call goes to, at which endpoint, with
 * which credential. A container names the provider in the path it calls
 * (`/p/<name>/...`), and each provider's kind fixes the only endpoints it
 * forwards and the header its key travels in, so an agent can neither reach
 * another endpoint of the API nor send one provider's key to another.
 *
 * - anthropic: `/p/<name>/v1/messages[?q]` and `/p/<name>/v1/messages/count_tokens[?q]`
 *   go to `<upstream>/v1/messages...` (the upstream has no `/v1`:
 *   https://api.anthropic.com), the key in `x-api-key`.
 * - openai (any OpenAI-compatible API): `/p/<name>/chat/completions[?q]` goes
 *   to `<upstream>/chat/completions` (the upstream includes its `/v1` part:
 *   https://api.openai.com/v1, http://127.0.0.1:11434/v1), the key as
 *   `Authorization: Bearer`.
 * - bare `/v1/messages...` goes to the default route (an anthropic one), so
 *   the Claude Agent SDK keeps its `ANTHROPIC_BASE_URL` unchanged.
 *
 *   const routes = new ProviderRoutes([{ name: 'openai', kind: 'openai', upstream: 'https://api.openai.com/v1', apiKey }]);
 *   const target = routes.resolve('/p/openai/chat/completions'); // { route, upstreamPath: '/v1/chat/completions' }
 */
import type http from 'node:http';

/** One provider a container may call through the proxy. */
export interface ProviderRoute {
  /** What the container puts in the path: `/p/<name>/...`. Lower case letters, digits and dashes, at most 32. */
  name: string;
  /** The wire format, which fixes the endpoints forwarded and the header the key goes in. */
  kind: 'anthropic' | 'openai';
  /** The API's base URL: without `/v1` for anthropic, with it (or the server's own prefix) for openai. */
  upstream: string;
  /** Sent upstream in the kind's header; none for a server that needs no key (a local Ollama). */
  apiKey?: string;
}

/** A route ready for use: its upstream URL parsed once. */
export interface ResolvedRoute extends ProviderRoute {
  url: URL;
  /** The upstream's path prefix without a trailing slash ('' or '/v1' or '/api/v1'). */
  basePath: string;
}

/** Where a container's path goes, or why it goes nowhere (status and message for the container). */
export type RouteTarget =
  | { route: ResolvedRoute; upstreamPath: string }
  | { status: 403 | 404; type: 'permission_error' | 'not_found_error'; message: string; provider?: string };

export const PROVIDER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

// The endpoints each kind forwards, as the rest of the path after `/p/<name>`
// (or the bare path, for the default route). Anchored: `/v1/messages/../files`,
// `/v1/messages/batches` and `/v1/messagesx` match nothing.
const ENDPOINTS: Record<ProviderRoute['kind'], RegExp[]> = {
  anthropic: [/^\/v1\/messages(\?.*)?$/, /^\/v1\/messages\/count_tokens(\?.*)?$/],
  openai: [/^\/chat\/completions(\?.*)?$/],
};
const ENDPOINT_HELP: Record<ProviderRoute['kind'], string> = {
  anthropic: 'an Anthropic Messages API: POST /p/<name>/v1/messages or /p/<name>/v1/messages/count_tokens',
  openai: 'an OpenAI-compatible API: POST /p/<name>/chat/completions',
};

export class ProviderRoutes {
  private readonly byName = new Map<string, ResolvedRoute>();
  private readonly defaultRoute?: ResolvedRoute;

  /**
   * Throws on a route that could never work (a bad name, a duplicate, an
   * upstream that is not an http(s) URL or carries credentials, a default
   * that is missing or not anthropic), so a bad config fails at start.
   */
  constructor(routes: ProviderRoute[], defaultRoute?: string) {
    for (const r of routes) {
      if (!PROVIDER_NAME.test(r.name)) throw new Error(`Provider name "${r.name}" is not valid: use 1-32 lower case letters, digits and dashes, starting with a letter or digit.`);
      if (this.byName.has(r.name)) throw new Error(`Provider "${r.name}" is configured twice: give each provider its own name.`);
      if (r.kind !== 'anthropic' && r.kind !== 'openai') throw new Error(`Provider "${r.name}" has kind "${String(r.kind)}": use "anthropic" or "openai" (any OpenAI-compatible API).`);
      let url: URL;
      try {
        url = new URL(r.upstream);
      } catch {
        throw new Error(`Provider "${r.name}" has base URL "${r.upstream}", which is not a URL: use e.g. https://api.openai.com/v1.`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Provider "${r.name}" has base URL "${url.origin}": only http and https are supported.`);
      if (url.username || url.password) throw new Error(`Provider "${r.name}" has a user name or password in its base URL: put the key in the provider's key setting instead.`);
      this.byName.set(r.name, { ...r, url, basePath: url.pathname.replace(/\/+$/, '') });
    }
    if (defaultRoute !== undefined) {
      const d = this.byName.get(defaultRoute);
      if (!d) throw new Error(`The default provider "${defaultRoute}" is not among the configured providers (${this.names().join(', ') || 'none'}).`);
      if (d.kind !== 'anthropic') throw new Error(`The default provider "${defaultRoute}" is ${d.kind}: bare /v1/messages calls (the Claude Agent SDK's) need an anthropic provider.`);
      this.defaultRoute = d;
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Where a POST to `path` goes. Only POST reaches here; other methods are refused by the caller. */
  resolve(path: string): RouteTarget {
    const shown = path.split('?')[0].slice(0, 200);
    const named = /^\/p\/([^/?]*)(.*)$/.exec(path);
    if (!named) {
      if (this.defaultRoute && ENDPOINTS.anthropic.some((re) => re.test(path))) return { route: this.defaultRoute, upstreamPath: this.defaultRoute.basePath + path };
      return { status: 403, type: 'permission_error', message: `${shown} is not a model endpoint this agent may use (${this.defaultRoute ? 'bare /v1/messages, or ' : ''}/p/<provider>/... for a configured provider).` };
    }
    const [, name, rest] = named;
    const route = PROVIDER_NAME.test(name) ? this.byName.get(name) : undefined;
    if (!route) {
      const known = this.names();
      return { status: 404, type: 'not_found_error', message: `no provider "${name.slice(0, 40)}" is configured for this agent${known.length ? ` (configured: ${known.join(', ')})` : ''}; a provider is added in the config's providers.` };
    }
    if (!ENDPOINTS[route.kind].some((re) => re.test(rest))) {
      return { status: 403, type: 'permission_error', provider: route.name, message: `${shown} is not a model endpoint this agent may use: provider "${route.name}" is ${ENDPOINT_HELP[route.kind]}.` };
    }
    return { route, upstreamPath: route.basePath + rest };
  }
}

/** The route's key in the header its kind expects; nothing for a keyless route. */
export function credentialHeaders(route: ProviderRoute): http.OutgoingHttpHeaders {
  if (!route.apiKey) return {};
  return route.kind === 'anthropic' ? { 'x-api-key': route.apiKey } : { authorization: `Bearer ${route.apiKey}` };
}

/**
 * An OpenAI-compatible stream reports usage only when asked
 * (`stream_options.include_usage`), so a streamed request is made to ask:
 * otherwise its tokens would go unmetered and past the budget. The client
 * gets one extra chunk with `choices: []` before `[DONE]`, which the
 * Chat Completions clients handle. A body that is not a JSON object is an
 * error string for the container; a request that does not stream is returned
 * as it came.
 *
 *   const body = requireStreamedUsage(raw);  // Buffer, or string: refuse with 400
 */
export function requireStreamedUsage(raw: Buffer): Buffer | string {
  let request: unknown;
  try {
    request = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return `the request body is not JSON (${(err as Error).message.slice(0, 120)}); the Chat Completions API takes a JSON object.`;
  }
  if (!request || typeof request !== 'object' || Array.isArray(request)) return 'the request body is JSON but not an object; the Chat Completions API takes a JSON object.';
  const r = request as Record<string, unknown>;
  if (r.stream !== true) return raw;
  const options = r.stream_options && typeof r.stream_options === 'object' && !Array.isArray(r.stream_options) ? r.stream_options as Record<string, unknown> : {};
  if (options.include_usage === true) return raw;
  r.stream_options = { ...options, include_usage: true };
  return Buffer.from(JSON.stringify(r));
}
