import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { homeLayout, resolveHome } from '../config/home.ts';
import { Providers, type Provider } from '../config/providers.ts';
import { Secrets } from '../config/secrets.ts';
import { CHAT_CHANNEL_NAMES, loadChatChannel } from '../channels/registry.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createRuntime } from '../app.ts';
import { DockerRuntime } from '../sandbox/docker/index.ts';
import { configuredChains, planProblem } from '../core/agent-plan.ts';
import { checkEndpoint, type ProviderOrigin } from './provider-check.ts';

type Check = { name: string; ok: boolean; detail: string; fix?: string };

/** `nanoclaw doctor`: checks what the gateway needs and says what to fix. Exits 1 if anything fails. */
export async function runDoctor(): Promise<void> {
  const checks: Check[] = [];
  const add = (c: Check) => {
    checks.push(c);
    process.stdout.write(`${c.ok ? '\u2714' : '\u2718'} ${c.name}: ${c.detail}\n${!c.ok && c.fix ? `    fix: ${c.fix}\n` : ''}`);
  };
  const major = Number(process.versions.node.split('.')[0]);
  add({ name: 'node', ok: major >= 22, detail: `v${process.versions.node}`, fix: 'install Node 24 LTS, or run scripts/setup.sh which fetches it' });

  const home = resolveHome();
  if (existsSync(home)) {
    let writable = true;
    try { accessSync(home, constants.W_OK); } catch { writable = false; }
    const mode = statSync(home).mode & 0o777;
    add({ name: 'data folder', ok: writable && (mode & 0o077) === 0, detail: `${home} (mode ${mode.toString(8)}${writable ? '' : ', not writable'})`,
      fix: `chmod 700 ${home}; it holds the API token and every conversation's files` });
  } else {
    add({ name: 'data folder', ok: true, detail: `${home} (created on first start)` });
  }

  let config: Config | undefined;
  try {
    config = loadConfig(home);
    add({ name: 'config', ok: true, detail: existsSync(`${home}/config.json`) ? `${home}/config.json is valid` : 'defaults (no config.json)' });
  } catch (err) {
    add({ name: 'config', ok: false, detail: (err as Error).message, fix: 'correct the named field; `nanoclaw config` lists every option' });
  }

  const runtime = config ? createRuntime(config) : new DockerRuntime();
  let engineUp = false;
  try {
    add({ name: 'engine', ok: true, detail: await runtime.version() });
    engineUp = true;
  } catch (err) {
    add({ name: 'engine', ok: false, detail: `${config?.container.engine ?? 'docker'} engine not answering (${(err as Error).message})`, fix: 'run scripts/docker-engine.sh as root, or start Docker and give your user access to its socket' });
  }
  if (engineUp && config) {
    const has = await runtime.hasImage(config.container.image).catch(() => false);
    add({ name: 'agent image', ok: has, detail: has ? config.container.image : `${config.container.image} not found`, fix: 'bash image/build.sh' });
    if (config.container.runtime === 'runsc' && config.container.engine === 'docker') {
      const info = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' });
      add({ name: 'gVisor', ok: info.includes('runsc'), detail: info.includes('runsc') ? 'runsc registered' : 'runsc is not registered with the engine', fix: 'install runsc and register it in /etc/docker/daemon.json (see scripts/docker-engine.sh)' });
    }
  }

  let git = true;
  try { execFileSync('git', ['--version'], { stdio: 'ignore' }); } catch { git = false; }
  add({ name: 'git', ok: git, detail: git ? 'found (records persistent memory)' : 'not found', fix: 'install git; persistent memory keeps its history with it' });

  const secrets = new Secrets(homeLayout(home).secrets, process.env);
  if (config) await checkProviders(config, secrets, home, add);
  if (config) {
    // Each enabled chat channel asks its service whether its credentials work.
    for (const name of CHAT_CHANNEL_NAMES) {
      if (!config.channels[name].enabled) continue;
      try {
        const r = await (await loadChatChannel(name)).check({ config: config.channels[name] as never, secrets, signal: AbortSignal.timeout(10_000) });
        add({ name: `channel ${name}`, ok: r.ok, detail: r.detail, fix: r.fix });
      } catch (err) {
        add({ name: `channel ${name}`, ok: false, detail: (err as Error).message, fix: `run \`nanoclaw setup ${name}\`` });
      }
    }
  }
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(failed ? `\n${failed} problem(s) found.\n` : '\nAll checks passed.\n');
  if (failed) process.exitCode = 1;
}

/**
 * One key check and one endpoint check per provider that some configured
 * chain uses, a line for each configured provider no chain uses, and one
 * line per chain (agent, agent.byChannel.*, agent.byConversation.*) saying
 * whether it can run, as the gateway decides at start.
 */
async function checkProviders(config: Config, secrets: Secrets, home: string, add: (c: Check) => void): Promise<void> {
  let providers: Providers;
  try {
    providers = Providers.load(config, secrets);
  } catch (err) {
    add({ name: 'secrets', ok: false, detail: (err as Error).message, fix: 'correct secrets.json as the message says' });
    return;
  }
  const chains = configuredChains(config);
  const used = [...new Set(chains.flatMap((c) => c.plan.providers))];
  for (const name of used) {
    const p = providers.get(name);
    if (!p) continue; // its chain's line says so
    const origin = originOf(p, config, secrets, home);
    add(keyCheck(p, config, origin));
    add({ name: `provider ${name} endpoint`, ...await checkEndpoint(p.settings, p.apiKey, origin) });
  }
  for (const name of Object.keys(config.providers)) {
    if (used.includes(name)) continue;
    add({ name: `provider ${name}`, ok: true, detail: `configured, not used by any chain (not checked); name it in agent.providers, or \`/model builtin ${name}\` in a chat` });
  }
  for (const { where, plan } of chains) {
    const problem = planProblem(config, providers, plan);
    const fix = problem && /has no API key/.test(problem)
      ? `store the key (see the provider's key line), or take the provider out of ${where}.providers; the gateway will not start until then`
      : `correct ${where} in ${homeLayout(home).config} (\`nanoclaw config\` lists the options); the gateway will not start until then`;
    add({ name: where, ok: !problem, detail: problem ?? `${plan.engine} engine with ${plan.providers.join(', ')}`, fix });
  }
}

function isDefaultAnthropic(p: Provider, config: Config): boolean {
  return p.name === 'anthropic' && !config.providers.anthropic;
}

function originOf(p: Provider, config: Config, secrets: Secrets, home: string): ProviderOrigin {
  const s = p.settings;
  const fromEnv = s.apiKeySecret && process.env[s.apiKeySecret];
  const keyWhere = s.apiKeyFile ? `the key file ${s.apiKeyFile}`
    : s.apiKeySecret ? `${s.apiKeySecret} ${fromEnv ? 'in the environment' : secrets.get(s.apiKeySecret) ? `in ${homeLayout(home).secrets}` : ''}`.trim()
    : undefined;
  return isDefaultAnthropic(p, config)
    ? { baseUrlWhere: 'model.baseUrl / ANTHROPIC_BASE_URL', keyWhere, setupCommand: 'nanoclaw setup provider --anthropic' }
    : { baseUrlWhere: `providers.${p.name}.baseUrl`, keyWhere, setupCommand: `nanoclaw setup provider --name ${p.name} --kind ${s.kind} --base-url ${s.baseUrl} --model ${s.model}` };
}

/** Whether the key is there and where it was found: never the key itself. */
function keyCheck(p: Provider, config: Config, origin: ProviderOrigin): Check {
  const name = `provider ${p.name} key`;
  const s = p.settings;
  if (!s.apiKeySecret && !s.apiKeyFile) return { name, ok: true, detail: 'none configured (a server that needs no key)' };
  if (p.apiKey) return { name, ok: true, detail: `${origin.keyWhere} (it stays in the gateway)` };
  if (isDefaultAnthropic(p, config)) {
    return { name, ok: false, detail: 'ANTHROPIC_API_KEY is not set (neither in the environment nor in secrets.json)',
      fix: 'export ANTHROPIC_API_KEY=... (or pipe it into `nanoclaw setup provider --anthropic`), or set up another provider for the builtin engine: `nanoclaw setup provider`' };
  }
  return { name, ok: false, detail: p.missingKey ?? 'missing',
    fix: s.apiKeyFile ? `write the key into ${s.apiKeyFile} (first line, mode 0600)` : `export ${s.apiKeySecret}=..., or pipe the key into \`${origin.setupCommand}\`` };
}
