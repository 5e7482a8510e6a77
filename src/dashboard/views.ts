import { readFileSync } from 'node:fs';
import type { ChannelHealth } from '../channels/channel.ts';
import type { Config } from '../config/schema.ts';
import type { ContainerRuntime } from '../sandbox/runtime.ts';
import { tokens } from '../sandbox/budget.ts';
import type { EgressAllowlistStore } from '../store/egress-allowlist.ts';
import type { SenderStore } from '../store/senders.ts';
import type { Store, UsageTotals } from '../store/store.ts';
import type { ChainCheck } from './audit-view.ts';

const VERSION = (() => {
  try {
    return String(JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version);
  } catch {
    return 'unknown';
  }
})();
const STARTED = Date.now();

/** What the dashboard reads of the gateway (core/gateway.ts), and nothing it could change through. */
export interface GatewayView {
  status(): {
    pool: number;
    channels: Array<{ name: string; health: ChannelHealth | null }>;
    conversations: Array<{ id: string; channel: string; chat: string; thread: string; container: string | null; busy: boolean; memory: boolean; lastActiveAt: number; usage: UsageTotals; proxies: boolean | null }>;
  };
  readonly senders: SenderStore;
  readonly egressAllowlist: EgressAllowlistStore;
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);
const usageOf = (u: UsageTotals) => ({ requests: u.requests, tokens: tokens(u), costUsd: u.costUsd });
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The dashboard's pages as data: each method answers one GET route
 * (routes.ts) from the store, the gateway's status and the runtime. Nothing
 * here changes anything.
 *
 *   const views = new DashboardViews({ config, store, runtime, gateway, lastCheck, auditHead });
 *   await views.overview()
 */
export class DashboardViews {
  constructor(private readonly deps: {
    config: Config;
    store: Store;
    runtime: ContainerRuntime;
    gateway: GatewayView;
    lastCheck: () => ChainCheck | null;
    auditHead: () => { seq: number; hash: string } | null;
  }) {}

  private budgets() {
    const b = this.deps.config.budget;
    return {
      globalTokensPerDay: b.globalTokensPerDay ?? 0, globalCostPerDayUsd: b.globalCostPerDayUsd ?? 0,
      conversationTokensPerDay: b.conversationTokensPerDay ?? 0, conversationCostPerDayUsd: b.conversationCostPerDayUsd ?? 0,
    };
  }

  private async runtimeInfo() {
    const engine = this.deps.config.container.engine;
    try {
      const version = await Promise.race([this.deps.runtime.version(), new Promise<never>((_, no) => setTimeout(() => no(new Error('no answer within 5 s')), 5000).unref())]);
      return { engine, version, ok: true };
    } catch (err) {
      return { engine, version: null, ok: false, error: `The ${engine} engine does not answer: ${(err as Error).message}. Containers cannot start until it does (\`nanoclaw doctor\`).` };
    }
  }

  private pendingPairings() {
    // The sender store's own clock decides when a code expires.
    const now = Date.now();
    return this.deps.gateway.senders.list().filter((s) => s.status === 'pending' && (s.codeExpiresAt ?? 0) > now);
  }

  async overview() {
    const status = this.deps.gateway.status();
    const live = status.conversations.filter((c) => c.container);
    const down = live.filter((c) => c.proxies === false);
    const today = this.deps.store.usageToday();
    const runtime = await this.runtimeInfo();
    return {
      gateway: { version: VERSION, pid: process.pid, startedAt: iso(STARTED), uptimeSec: Math.round((Date.now() - STARTED) / 1000), rssBytes: process.memoryUsage.rss(), node: process.version },
      runtime,
      // Each container's credential and egress proxies are servers in this
      // process on that container's sockets: they start and end with it.
      proxies: {
        ok: down.length === 0, containers: live.length,
        detail: down.length ? `not listening for ${down.map((c) => c.container).join(', ')}: those containers cannot reach the model or the web; stop them (Containers) and the next message starts fresh ones`
          : live.length ? `listening for all ${live.length} container(s): one credential proxy and one egress proxy each, on its own sockets`
          : 'no container running; each one gets its own credential and egress proxy',
      },
      channels: status.channels.map((c) => ({ name: c.name, ...(c.health ? { ...c.health, since: iso(c.health.since) } : { state: 'connected' }) })),
      containers: { live: live.length, busy: live.filter((c) => c.busy).length, pool: status.pool },
      today: { ...usageOf(today), budgets: this.budgets() },
      pairings: { pending: this.pendingPairings().length },
      conversations: { total: status.conversations.length, busy: status.conversations.filter((c) => c.busy).length },
      audit: { head: this.deps.auditHead(), lastVerification: this.deps.lastCheck() },
    };
  }

  private conversationRow(c: ReturnType<GatewayView['status']>['conversations'][number]) {
    return { id: c.id, channel: c.channel, chat: c.chat, thread: c.thread, container: c.container, busy: c.busy, memory: c.memory, lastActiveAt: iso(c.lastActiveAt), usage: usageOf(c.usage) };
  }

  conversations(q: { channel?: string; state?: string; q?: string }) {
    const all = this.deps.gateway.status().conversations;
    const text = q.q?.toLowerCase().slice(0, 200);
    const rows = all
      .filter((c) => !q.channel || c.channel === q.channel)
      .filter((c) => q.state === 'busy' ? c.busy : q.state === 'idle' ? !c.busy : q.state === 'live' ? c.container !== null : true)
      .filter((c) => !text || `${c.id} ${c.channel} ${c.chat} ${c.thread}`.toLowerCase().includes(text))
      .sort((a, b) => b.lastActiveAt - a.lastActiveAt)
      .slice(0, 500);
    return { channels: [...new Set(all.map((c) => c.channel))].sort(), conversations: rows.map((c) => this.conversationRow(c)) };
  }

  conversation(id: string) {
    const c = this.deps.gateway.status().conversations.find((x) => x.id === id);
    if (!c) return undefined;
    const running = c.busy
      ? this.deps.store.db.prepare("SELECT id FROM inbound WHERE conversation_id = ? AND status = 'pending' ORDER BY id LIMIT 1").get(id) as { id: number } | undefined
      : undefined;
    return {
      conversation: this.conversationRow(c),
      messages: this.deps.store.history(id, 50).map((m) => ({ direction: m.direction, kind: m.kind, text: m.text.slice(0, 20_000), at: iso(m.at) })),
      turn: running ? { inboundId: running.id, container: c.container } : null,
      egress: this.deps.gateway.egressAllowlist.list(id),
    };
  }

  async containers() {
    const { config, store, runtime } = this.deps;
    const status = this.deps.gateway.status();
    const busy = new Map(status.conversations.filter((c) => c.container).map((c) => [c.container!, c.busy]));
    const now = Date.now();
    const rows = await Promise.all(store.liveContainers().map(async (c) => {
      const stats = runtime.stats ? await runtime.stats(c.name).catch(() => undefined) : undefined;
      return {
        name: c.name, conversation: c.conversationId, state: c.state, profile: config.security.profile, runtime: config.container.runtime,
        createdAt: iso(c.createdAt), uptimeSec: Math.max(0, Math.round((now - c.createdAt) / 1000)),
        memoryBytes: stats?.memoryBytes ?? null, memoryLimitBytes: stats?.memoryLimitBytes ?? null, pids: stats?.pids ?? null,
        busy: busy.get(c.name) ?? false,
      };
    }));
    const recent = (store.db.prepare('SELECT name, conversation_id, created_at, ended_at, end_reason FROM containers WHERE ended_at IS NOT NULL ORDER BY ended_at DESC LIMIT 20').all() as any[])
      .map((r) => ({ name: r.name, conversation: r.conversation_id, createdAt: iso(r.created_at), endedAt: iso(r.ended_at), reason: r.end_reason }));
    return { runtime: { engine: config.container.engine, version: (await this.runtimeInfo()).version }, pool: status.pool, containers: rows, recent };
  }

  /** Usage rows of the last `days` days (UTC), by day, conversation, provider and model. */
  usage(days: number) {
    const from = day(Date.now() - (days - 1) * 86_400_000);
    const rows = (this.deps.store.db.prepare(`SELECT day, conversation_id, provider, model, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd
        FROM usage_models WHERE day >= ? ORDER BY day, conversation_id, provider, model LIMIT 20000`).all(from) as any[])
      .map((r) => ({
        day: r.day as string, conversation: r.conversation_id as string, provider: r.provider as string, model: r.model as string, requests: r.requests as number,
        inputTokens: r.input_tokens as number, outputTokens: r.output_tokens as number, cacheWriteTokens: r.cache_write_tokens as number, cacheReadTokens: r.cache_read_tokens as number, costUsd: r.cost_usd as number,
      }));
    return { from, to: day(Date.now()), budgets: this.budgets(), rows };
  }

  pairing() {
    const pending = this.pendingPairings().map((s) => {
      const requestedAt = this.deps.store.db.prepare('SELECT created_at FROM senders WHERE channel = ? AND sender = ?').get(s.channel, s.sender) as { created_at: number } | undefined;
      return { channel: s.channel, sender: s.sender, code: s.code, requestedAt: iso(requestedAt?.created_at), expiresAt: iso(s.codeExpiresAt) };
    });
    const approved = (this.deps.store.db.prepare("SELECT channel, sender, approved_at FROM senders WHERE status = 'approved' ORDER BY approved_at DESC LIMIT 500").all() as any[])
      .map((r) => ({ channel: r.channel, sender: r.sender, approvedAt: iso(r.approved_at) }));
    return { pending, approved };
  }

  egressLists() {
    const rows = this.deps.store.db.prepare('SELECT conversation_id, entry, added_by, added_at FROM egress_allow ORDER BY conversation_id, added_at').all() as any[];
    const byConversation = new Map<string, Array<{ entry: string; addedBy: string; addedAt: string | null }>>();
    for (const r of rows) {
      const list = byConversation.get(r.conversation_id) ?? [];
      list.push({ entry: r.entry, addedBy: r.added_by, addedAt: iso(r.added_at) });
      byConversation.set(r.conversation_id, list);
    }
    return {
      global: this.deps.config.egress.allow,
      conversations: [...byConversation].map(([id, entries]) => {
        const c = this.deps.store.getConversation(id);
        return { id, channel: c?.channel ?? '', chat: c?.chat ?? '', entries };
      }),
    };
  }
}

/** The usage rows as CSV (RFC 4180 quoting); a cell that a spreadsheet would run as a formula is prefixed with '. */
export function usageCsv(rows: ReturnType<DashboardViews['usage']>['rows']): string {
  const cell = (v: string | number) => {
    let s = String(v);
    if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = ['day', 'conversation', 'provider', 'model', 'requests', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_usd'];
  const lines = rows.map((r) => [r.day, r.conversation, r.provider, r.model, r.requests, r.inputTokens, r.outputTokens, r.cacheWriteTokens, r.cacheReadTokens, r.costUsd.toFixed(6)].map(cell).join(','));
  return [head.join(','), ...lines].join('\r\n') + '\r\n';
}
