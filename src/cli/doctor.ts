import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { homeLayout, resolveHome } from '../config/home.ts';
import { Secrets } from '../config/secrets.ts';
import { CHAT_CHANNEL_NAMES, loadChatChannel } from '../channels/registry.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { createRuntime } from '../app.ts';
import { DockerRuntime } from '../sandbox/docker/index.ts';

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

  const key = process.env.ANTHROPIC_API_KEY;
  add({ name: 'model key', ok: !!key, detail: key ? 'ANTHROPIC_API_KEY is set (it stays in the gateway)' : 'ANTHROPIC_API_KEY is not set', fix: 'export ANTHROPIC_API_KEY=...' });
  if (config) {
    const url = `${config.model.baseUrl.replace(/\/$/, '')}/v1/messages/count_tokens`;
    try {
      const res = await fetch(url, {
        method: 'POST', signal: AbortSignal.timeout(8000),
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key ?? '' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'ping' }] }),
      });
      const ok = res.status < 500 && res.status !== 401 && res.status !== 403;
      add({ name: 'model endpoint', ok, detail: `${config.model.baseUrl} answered ${res.status}${res.status === 401 ? ' (the key was rejected)' : ''}`,
        fix: res.status === 401 ? 'check ANTHROPIC_API_KEY' : 'check model.baseUrl / ANTHROPIC_BASE_URL' });
    } catch (err) {
      add({ name: 'model endpoint', ok: false, detail: `${config.model.baseUrl} unreachable (${(err as Error).cause ?? (err as Error).message})`, fix: 'check the network, or point ANTHROPIC_BASE_URL at a reachable Anthropic-compatible endpoint' });
    }
  }
  if (config) {
    // Each enabled chat channel asks its service whether its credentials work.
    const secrets = new Secrets(homeLayout(home).secrets, process.env);
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
