import type { Config } from '../config/schema.ts';
import type { Providers } from '../config/providers.ts';
import { CONTAINER_EGRESS_PORT, type EngineName } from '../protocol/messages.ts';

/**
 * What the host tells an agent container's runner through its environment
 * at creation, beside the hardened profile's own (HOME, the token, the
 * runtime): which engine to host, the egress proxy for every HTTP client in
 * the container, and, for a pooled container, what to warm up for.
 *
 *   Object.assign(spec.env, runnerEnv({ engine: 'builtin', token, prewarm: true, config, providers }));
 */
export function runnerEnv(o: { engine: EngineName; token: string; prewarm: boolean; config: Config; providers: Providers }): Record<string, string> {
  // The runner's own fetch (Node and Bun), the engines' tools and the
  // agent's shell all go through the egress proxy, the container token its
  // password; loopback (the model bridge) goes direct.
  const proxy = `http://nanoclaw:${encodeURIComponent(o.token)}@127.0.0.1:${CONTAINER_EGRESS_PORT}`;
  const env: Record<string, string> = {
    NANOCLAW_ENGINE: o.engine,
    HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy,
    NO_PROXY: '127.0.0.1,localhost,::1', no_proxy: '127.0.0.1,localhost,::1', NODE_USE_ENV_PROXY: '1',
  };
  if (o.prewarm) {
    env.NANOCLAW_PREWARM = '1';
    const provider = prewarmProvider(o.config, o.providers);
    if (provider) {
      env.NANOCLAW_PREWARM_PROVIDER = provider;
      env.NANOCLAW_PREWARM_MODEL = o.providers.get(provider)!.settings.model;
    }
  }
  return env;
}

/**
 * The provider a pooled Claude engine warms up against: the first usable
 * Anthropic one of the config's own chain (a conversation whose chain starts
 * elsewhere reopens the engine when it binds). Bare `/v1/messages` paths on
 * the credential proxy go to it too.
 */
export function prewarmProvider(config: Config, providers: Providers): string | undefined {
  return config.agent.providers.find((n) => providers.get(n)?.settings.kind === 'anthropic' && !providers.get(n)?.missingKey);
}
