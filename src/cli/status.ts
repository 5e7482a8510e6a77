import { existsSync, readFileSync } from 'node:fs';
import { homeLayout, resolveHome } from '../config/home.ts';
import { runningGateway } from '../config/gateway-pid.ts';
import { createRuntime } from '../app.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { agentPlan } from '../core/agent-plan.ts';
import { LABEL_CONVERSATION, LABEL_HOME, LABEL_MANAGED } from '../sandbox/profile.ts';
import { usd } from '../sandbox/budget.ts';
import { openDatabase } from '../store/database.ts';
import { Store } from '../store/store.ts';
import { Outbox } from '../store/outbox.ts';
import { describeSchedule } from '../tasks/schedule.ts';
import { scheduleOf, TaskStore } from '../tasks/task-store.ts';
import { formatInZone } from '../tasks/zone-time.ts';

/** `nanoclaw status`: the API address and token, and every conversation with its container. */
export async function runStatus(opts: { json?: boolean }): Promise<void> {
  const layout = homeLayout(resolveHome());
  if (!existsSync(layout.db)) {
    process.stdout.write(`No NanoClaw data in ${layout.home} yet: run \`nanoclaw start\` first.\n`);
    return;
  }
  const gateway = runningGateway(layout);
  const running = !!gateway;
  const token = existsSync(layout.apiToken) ? readFileSync(layout.apiToken, 'utf8').trim() : undefined;
  const store = new Store(openDatabase(layout.db));
  let containers: Array<{ name: string; state: string; labels: Record<string, string> }> = [];
  let engineError: string | undefined;
  let config: Config | undefined;
  try {
    config = loadConfig(layout.home);
    containers = await createRuntime(config).list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: layout.home });
  } catch (err) {
    engineError = (err as Error).message;
  }
  // A container started for its conversation carries it as a label; a
  // pre-started one got its conversation later, which only the store knows
  // (labels cannot change after creation).
  const boundTo = new Map(store.liveContainers().map((c) => [c.name, c.conversationId]));
  const conversationOf = (c: { name: string; labels: Record<string, string> }) => c.labels[LABEL_CONVERSATION] || boundTo.get(c.name) || undefined;
  const byConv = new Map(containers.flatMap((c) => { const id = conversationOf(c); return id ? [[id, c] as const] : []; }));
  const conversations = store.listConversations().map((c) => ({
    id: c.id, channel: c.channel, chat: c.chat, thread: c.thread, memory: c.memory,
    // What the conversation runs (config, then the owner's /model choice); unknown when the config does not load.
    agent: config ? agentPlan(config, c) : null,
    lastActive: new Date(c.lastActiveAt).toISOString(), container: byConv.get(c.id)?.name ?? null,
    usage: store.usage(c.id),
    // Replies the delivery worker gave up on: the owner hears of them here (and in the log and audit).
    undelivered: new Outbox(store.db).failedIn(c.id).map((m) => ({ id: m.id, at: new Date(m.createdAt).toISOString(), error: m.lastError })),
  }));
  const pool = containers.filter((c) => !conversationOf(c)).length;
  // The scheduled tasks' next runs, soonest first (nanoclaw tasks list --all shows every task).
  const tasks = new TaskStore(store.db).upcoming(10).map((t) => ({
    id: t.id, conversation: t.conversationId, name: t.name, schedule: describeSchedule(scheduleOf(t), t.tz),
    nextRun: new Date(t.nextRunAt!).toISOString(), nextRunLocal: formatInZone(t.nextRunAt!, t.tz),
  }));
  const channels = running && token ? await channelHealth(gateway!.url, token) : [];
  if (opts.json) {
    process.stdout.write(JSON.stringify({ home: layout.home, gateway: running ? gateway : null, token, pool, channels, conversations, tasks, engineError }, null, 2) + '\n');
    return;
  }
  const out = [
    `home:     ${layout.home}`,
    `gateway:  ${running ? `running (pid ${gateway!.pid}), API ${gateway!.url}` : 'not running (start it with `nanoclaw start`)'}`,
    `token:    ${token ?? '(created on first start)'}`,
    `          curl -H "Authorization: Bearer $TOKEN" ${gateway?.url ?? 'http://127.0.0.1:7878'}/api/v1/conversations`,
    `pool:     ${pool} pre-started container(s)`,
    engineError ? `engine:   not answering (${engineError})` : '',
    ...channels.map((c) => `channel:  ${c.name} ${c.state}${c.detail ? ` (${c.detail})` : ''}${c.action ? `\n          to fix: ${c.action}` : ''}`),
    '',
    conversations.length ? 'conversations:' : 'no conversations yet',
    ...conversations.map((c) => `  ${c.id}  ${c.channel}:${c.chat}${c.thread ? `/${c.thread}` : ''}  ${c.container ? `container ${c.container}` : 'no container'}` +
      `  ${c.agent ? `${c.agent.engine} engine, ${c.agent.providers.join(' then ')}  ` : ''}memory ${c.memory ? 'on' : 'off'}  ${c.usage.inputTokens}/${c.usage.outputTokens}/${c.usage.cacheWriteTokens}/${c.usage.cacheReadTokens} tokens in/out/cache write/cache read, ~${usd(c.usage.costUsd)}  last active ${c.lastActive}` +
      c.undelivered.map((u) => `\n    undelivered reply ${u.id} of ${u.at}: ${u.error}`).join('')),
    ...(tasks.length ? ['', 'next scheduled runs:', ...tasks.map((t) => `  ${t.nextRunLocal}  task #${t.id} "${t.name}" (${t.schedule})  in ${t.conversation}`)] : []),
  ].filter((l, i) => l !== '' || i > 5);
  process.stdout.write(out.join('\n') + '\n');
}

/** Each channel's connection, from the running gateway; none when it does not answer. */
async function channelHealth(url: string, token: string): Promise<Array<{ name: string; state: string; detail?: string; action?: string }>> {
  try {
    const res = await fetch(`${url}/api/v1/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3000) });
    return res.ok ? ((await res.json()) as { channels?: Array<{ name: string; state: string; detail?: string; action?: string }> }).channels ?? [] : [];
  } catch {
    return [];
  }
}

