/**
 * The shapes the dashboard's HTTP API answers with (the contract the gateway's src/dashboard
 * implements). Everything in them came from the server and, further back, from chat users and the
 * agent: render it only as text.
 *
 *   const o = await api<Overview>('/overview');
 *   o.channels.map((c) => c.name);
 */

export interface SessionInfo { id: string; createdAt: string; expiresAt: string }
export interface SessionAnswer { csrf: string; session: SessionInfo; name?: string }

export interface Budgets {
  globalTokensPerDay: number;
  globalCostPerDayUsd: number;
  conversationTokensPerDay: number;
  conversationCostPerDayUsd: number;
}

export interface ChainHead { seq: number; hash: string }
export interface ChainProblem { seq?: number; line: number; problem: string }
export interface Verification {
  at: string; ok: boolean; records: number; head: ChainHead | null; ms: number;
  problems: ChainProblem[]; firstProblem: ChainProblem | null;
}

export type ChannelState = 'starting' | 'connected' | 'reconnecting' | 'failed';
export interface ChannelHealth { name: string; state: ChannelState; detail?: string; action?: string; since?: string }

export interface Overview {
  gateway: { version: string; pid: number; startedAt: string; uptimeSec: number; rssBytes: number; node: string };
  runtime: { engine: string; version: string | null; ok: boolean; error?: string };
  proxies: { ok: boolean; containers: number; detail: string };
  channels: ChannelHealth[];
  containers: { live: number; busy: number; pool: number };
  today: { requests: number; tokens: number; costUsd: number; budgets: Budgets };
  pairings: { pending: number };
  conversations: { total: number; busy: number };
  audit: { head: ChainHead | null; lastVerification: Verification | null };
}

export interface Usage { requests: number; tokens: number; costUsd: number }
export interface Conversation {
  id: string; channel: string; chat: string; thread: string; title?: string;
  container: string | null; busy: boolean; memory: boolean; lastActiveAt: string | null; usage: Usage;
}
export interface ConversationList { channels: string[]; conversations: Conversation[] }
export interface Message { direction: 'in' | 'out'; sender?: string; kind?: string; text: string; at: string }
export interface ConversationDetail {
  conversation: Conversation;
  messages: Message[];
  turn: { inboundId: number | string; container: string | null } | null;
  egress: string[];
}

export interface ContainerInfo {
  name: string; conversation: string | null; state: string; profile: string; runtime: string; createdAt: string | null; uptimeSec: number;
  memoryBytes: number | null; memoryLimitBytes: number | null; pids: number | null; busy: boolean;
}
export interface EndedContainer { name: string; conversation: string | null; createdAt: string | null; endedAt: string | null; reason: string | null }
export interface ContainerList {
  runtime: { engine: string; version: string | null };
  pool: number;
  containers: ContainerInfo[];
  recent: EndedContainer[];
}

export interface AuditRecord {
  seq: number; ts: string; type: string; conversation?: string; container?: string; actor?: string;
  data: Record<string, unknown>;
}
export interface AuditPage { records: AuditRecord[]; next: number | null; head: ChainHead | null }

export interface UsageRow {
  day: string; conversation: string; provider: string; model: string; requests: number;
  inputTokens: number; outputTokens: number; cacheWriteTokens: number; cacheReadTokens: number; costUsd: number;
}
export interface UsageReport { from: string; to: string; budgets: Budgets; rows: UsageRow[] }

export interface PairingRequest { channel: string; sender: string; code: string; requestedAt: string | null; expiresAt: string | null }
export interface ApprovedSender { channel: string; sender: string; approvedAt: string | null }
export interface Pairing { pending: PairingRequest[]; approved: ApprovedSender[] }

export interface EgressEntry { entry: string; addedBy: string; addedAt: string | null }
export interface EgressDecision {
  seq: number; ts: string; decision: 'allowed' | 'denied'; conversation: string | null; host: string | null; port: number | null;
  method: string | null; reason?: string | null; status?: number | null;
}
export interface Egress {
  global: string[];
  conversations: { id: string; channel: string; chat: string; entries: EgressEntry[] }[];
  recent: EgressDecision[];
}

/** A reply or message the agent sent, as turn events carry it. */
export interface OutMessage { id: number | string; kind: string; text: string }

/** One `turn` event from the stream: the gateway's turn event plus the conversation it belongs to. */
export interface TurnEvent {
  conversation: string;
  type: 'accepted' | 'turn_start' | 'progress' | 'outbound' | 'question' | 'turn_end' | 'container';
  inboundId?: number | string;
  container?: string;
  kind?: 'text' | 'text_delta' | 'tool_use' | 'tool_result';
  tool?: string;
  text?: string;
  message?: OutMessage;
  questionId?: string;
  question?: string;
  choices?: string[];
  replies?: OutMessage[];
  state?: 'started' | 'destroyed';
  reason?: string;
}

/** What the event stream delivers to subscribers. */
export type LiveEvent = { name: 'ready' } | { name: 'turn'; data: TurnEvent } | { name: 'audit'; data: AuditRecord };
