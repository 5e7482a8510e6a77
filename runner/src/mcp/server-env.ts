/**
 * The variables a stdio MCP server gets from the runner: enough to find
 * programs and a home folder, and the egress proxy, so a server that calls
 * out reaches the hosts this conversation may reach, exactly as the agent's
 * own tools do. Nothing else of the runner's environment is passed on; the
 * server's configured `env` is laid over the top.
 */
const PASSED_ON = [
  'PATH', 'HOME', 'LANG',
  'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY',
] as const;

/**
 * A stdio MCP server's environment: the passed-on variables from `base`
 * (the engine's environment) and the server's own `env` over them.
 *
 *   serverEnv({ PATH: '/usr/bin', HOME: '/home/agent', SECRET: 'x' }, { DEBUG: '1' })
 *   // { PATH: '/usr/bin', HOME: '/home/agent', DEBUG: '1' }
 */
export function serverEnv(base: Readonly<Record<string, string | undefined>>, own: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASSED_ON) {
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...own };
}
