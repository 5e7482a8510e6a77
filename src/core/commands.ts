import type { AuditEvent } from '../audit/audit-log.ts';
import type { HomeLayout } from '../config/home.ts';
import type { Config } from '../config/schema.ts';
import { MemoryRepo } from '../memory/memory-repo.ts';
import type { AgentContainer } from '../sandbox/agent-container.ts';
import { parseAllowEntry } from '../sandbox/egress-policy.ts';
import type { EgressAllowlistStore } from '../store/egress-allowlist.ts';
import type { Sender } from '../store/senders.ts';
import type { Conversation, Store } from '../store/store.ts';
import type { Providers } from '../config/providers.ts';
import { modelCommand } from './model-command.ts';
import type { SkillOps } from '../skills/skill-ops.ts';
import { skillCommand } from '../skills/skill-command.ts';
import type { TaskOps } from '../tasks/task-ops.ts';
import { taskCommand } from '../tasks/task-command.ts';

/** A chat command: its name, its argument lowercased (for verbs and ids), and the argument as typed (for prompts and names). */
export type Command = { name: string; arg: string; raw: string };

/**
 * Commands that take the control lane: sent while a turn runs, they are
 * handled at once instead of waiting behind that turn (they are about it).
 */
export const CONTROL_COMMANDS: ReadonlySet<string> = new Set(['stop', 'end']);

/** What commands may touch: the gateway hands these over, and nothing else. */
export interface CommandContext {
  config: Config;
  layout: HomeLayout;
  store: Store;
  egressAllowlist: EgressAllowlistStore;
  providers: Providers;
  audit?: (event: AuditEvent) => void;
  liveContainer(conversationId: string): AgentContainer | undefined;
  /** Marks the turn about to start (its container being acquired) as stopped; false when none is. */
  stopStarting(conversationId: string): boolean;
  endContainer(conversationId: string, c: AgentContainer | undefined, reason: string, endSession: boolean): Promise<void>;
  approvePairing(code: string, actor: string): Sender | undefined;
  tasks: TaskOps;
  skills: SkillOps;
}

/**
 * Commands a user can type in any conversation. They are handled by the
 * gateway and never reach the agent.
 *
 *   parseCommand('/memory on')  // { name: 'memory', arg: 'on', raw: 'on' }
 *   parseCommand('hello')       // undefined
 */
export function parseCommand(text: string): Command | undefined {
  const m = /^\/([a-z]+)(?:\s+([\s\S]*))?$/i.exec(text.trim());
  if (!m) return undefined;
  const raw = (m[2] ?? '').trim();
  return { name: m[1].toLowerCase(), arg: raw.toLowerCase(), raw };
}

/**
 * Normalizes an egress allowlist entry typed in a chat (`example.com`,
 * `*.example.com`, `example.com:8443`, IP literals) the way the egress
 * proxy reads it. Returns undefined for anything else.
 */
export function normalizeEgressEntry(raw: string): string | undefined {
  const e = parseAllowEntry(raw);
  if (!e) return undefined;
  const host = e.kind === 'wildcard' ? `*.${e.host}` : e.host.includes(':') ? `[${e.host}]` : e.host;
  return e.port ? `${host}:${e.port}` : host;
}

/**
 * Runs one command in a conversation and returns the answer for the user.
 * Owner-only commands are checked against the sender (`who.owner`), never the chat.
 * `who.via` names where a command came from when not typed in the chat (the
 * dashboard), for the notes the user reads ("stopped by the dashboard").
 *
 *   await runCommand(ctx, conv, parseCommand('/allow example.com')!, { owner: true, actor: 'api:api' });
 */
export async function runCommand(ctx: CommandContext, conv: Conversation, cmd: Command, who: { owner: boolean; actor: string; via?: string }): Promise<string> {
  const live = ctx.liveContainer(conv.id);
  const ownerOnly = `/${cmd.name} is for the owner only.`;
  const audit = (type: string, data: Record<string, unknown>) => ctx.audit?.({ type, conversation: conv.id, actor: who.actor, data });
  switch (cmd.name) {
    case 'end': {
      if (cmd.arg && cmd.arg !== conv.id) {
        // Ending someone else's conversation is an owner's act.
        if (!who.owner) return ownerOnly.replace('/end', '/end <conversation>');
        const other = ctx.store.getConversation(cmd.arg);
        if (!other) return `No conversation ${cmd.arg}.`;
        const theirs = ctx.liveContainer(other.id);
        theirs?.interrupt(`ended by ${who.actor}`);
        await ctx.endContainer(other.id, theirs, `ended by ${who.actor}`, true);
        audit('admin.end_conversation', { target: other.id });
        return `Conversation ${other.id} ended.`;
      }
      // A running turn ends as stopped (its message answered with a note), not as failed.
      live?.interrupt('ended by /end');
      await ctx.endContainer(conv.id, live, 'ended by /end', true);
      return conv.memory
        ? 'Conversation ended: its container was destroyed. Persistent memory and the workspace were kept.'
        : 'Conversation ended: its container and workspace were destroyed. Your next message starts afresh.';
    }
    case 'stop':
      // The runner aborts the turn and stays up; the turn's message is answered with the note.
      if (live?.interrupt(`stopped by ${who.via ?? '/stop'}`)) {
        audit('admin.stop', { running: true });
        return 'Stopped.';
      }
      // A message waiting for its container (a slot, a cold start) is stopped before its turn begins.
      if (!ctx.stopStarting(conv.id)) return 'Nothing is running.';
      audit('admin.stop', { running: false });
      return 'Stopped: the message waiting for its sandbox will not run.';
    case 'memory': {
      if (cmd.arg === 'status' || !cmd.arg) return `Persistent memory is ${conv.memory ? 'on' : 'off'} for this conversation.`;
      if (!who.owner) return ownerOnly;
      if (cmd.arg !== 'on' && cmd.arg !== 'off') return 'Use /memory on, /memory off or /memory status.';
      const on = cmd.arg === 'on';
      if (on === conv.memory) return `Persistent memory is already ${on ? 'on' : 'off'}.`;
      ctx.store.updateConversation(conv.id, { memory: on });
      if (on) await new MemoryRepo(ctx.layout, conv.id).ensure();
      audit('admin.memory', { on });
      // The memory folder is mounted at container start: restart the container, keeping the session.
      if (live) await ctx.endContainer(conv.id, live, `memory turned ${on ? 'on' : 'off'}`, false);
      return on
        ? 'Persistent memory is on: the agent keeps files in /memory across conversations, and every change is recorded.'
        : 'Persistent memory is off for this conversation. Earlier memory is kept on the host but no longer mounted.';
    }
    case 'allow':
    case 'disallow': {
      if (!cmd.arg) {
        const list = ctx.egressAllowlist.list(conv.id);
        const global = ctx.config.egress.allow;
        return `Allowed for this conversation: ${list.length ? list.join(', ') : '(none)'}. Allowed everywhere: ${global.length ? global.join(', ') : '(none)'}.`;
      }
      if (!who.owner) return ownerOnly;
      const entry = normalizeEgressEntry(cmd.arg);
      if (!entry) return `"${cmd.arg}" is not a domain: use example.com, *.example.com or example.com:8443.`;
      const changed = cmd.name === 'allow' ? ctx.egressAllowlist.add(conv.id, entry, who.actor) : ctx.egressAllowlist.remove(conv.id, entry);
      audit(`admin.${cmd.name}_domain`, { entry, changed });
      return cmd.name === 'allow'
        ? `${entry} is now reachable from this conversation (HTTP and HTTPS through the egress proxy).`
        : changed ? `${entry} is no longer allowed here.` : `${entry} was not on this conversation's list.`;
    }
    case 'pair': {
      if (!who.owner) return ownerOnly;
      const [verb, code] = cmd.arg.split(/\s+/);
      if (verb !== 'approve' || !code) return 'Use /pair approve <code>.';
      const approved = ctx.approvePairing(code, who.actor);
      if (!approved) return `No pending pairing code ${code.toUpperCase()} (codes expire after an hour).`;
      return `Approved ${approved.channel}:${approved.sender}; their messages now reach the agent.`;
    }
    case 'model':
      return modelCommand(ctx, conv, cmd.arg, who);
    case 'tasks':
    case 'task':
      return taskCommand(ctx.tasks, conv.id, cmd.raw, who);
    case 'skills':
    case 'skill':
      return skillCommand(ctx.skills, conv.id, cmd.raw, who);
    case 'help':
      return 'Commands: /stop (stop the running turn), /end (stop it and destroy this conversation\'s container), /memory on|off|status, /allow [domain], /disallow <domain>, /pair approve <code>, /model [engine] [providers], /tasks (scheduled tasks: /tasks help), /skills (skills and proposals: /skills help). Owner only: /memory on|off, /allow <domain>, /disallow, /pair, /model <choice>, /end <other conversation>, /skills approve|reject|enable|disable|rollback; a task is changed by the owner or whoever created it.';
    default:
      return `Unknown command /${cmd.name}. Try /help.`;
  }
}
