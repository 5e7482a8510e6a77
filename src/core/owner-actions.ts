import type { AuditEvent } from '../audit/audit-log.ts';
import type { AgentContainer } from '../sandbox/agent-container.ts';
import type { SenderStore } from '../store/senders.ts';
import { parseCommand, runCommand, type CommandContext } from './commands.ts';

/**
 * What the owner may do to the gateway from outside a chat (the dashboard,
 * the HTTP API, the CLI): the powers of the owner's own chat commands, and
 * nothing more, each audited with who did it. The dashboard has no other way
 * to change anything, so it cannot do what a chat command cannot.
 *
 *   gateway.owner.approvePairing('K7Q2M9XA', 'dashboard:3f2a...');
 *   await gateway.owner.command('c-...', '/allow example.com', 'dashboard:3f2a...');
 */
export class OwnerActions {
  constructor(private readonly deps: {
    /** The chat commands' context (core/commands.ts). */
    commands: () => CommandContext;
    senders: SenderStore;
    audit?: (event: AuditEvent) => void;
    /** A live conversation container by its name, with its conversation. */
    containerNamed(name: string): { conversationId: string; container: AgentContainer } | undefined;
  }) {}

  /** Approves a pairing code (from the owner's chat, the CLI, the API or the dashboard) and audits it. */
  approvePairing(code: string, actor: string) {
    const approved = this.deps.senders.approve(code);
    if (approved) this.deps.audit?.({ type: 'pairing.approved', actor, data: { channel: approved.channel, sender: approved.sender } });
    return approved;
  }

  /** Refuses a pending pairing request (the dashboard's Reject): the sender must ask again for a new code. */
  rejectPairing(channel: string, sender: string, actor: string): boolean {
    if (this.deps.senders.get(channel, sender)?.status !== 'pending') return false;
    this.deps.senders.revoke(channel, sender);
    this.deps.audit?.({ type: 'pairing.rejected', actor, data: { channel, sender } });
    return true;
  }

  /**
   * A chat command (`/stop`, `/allow example.com`) run in a conversation as
   * its owner, from the dashboard. Undefined when there is no such
   * conversation (or the text is not a command).
   */
  async command(conversationId: string, text: string, actor: string): Promise<string | undefined> {
    const ctx = this.deps.commands();
    const conv = ctx.store.getConversation(conversationId);
    const command = parseCommand(text);
    if (!conv || !command) return undefined;
    return runCommand(ctx, conv, command, { owner: true, actor, via: 'the dashboard' });
  }

  /**
   * Stops a conversation's container (the dashboard's Stop): a running turn
   * ends as stopped, the session is kept, and the next message starts a new
   * container that resumes it. False when no live container has that name.
   */
  async stopContainer(name: string, actor: string): Promise<boolean> {
    const found = this.deps.containerNamed(name);
    if (!found) return false;
    found.container.interrupt('stopped by the dashboard');
    await this.deps.commands().endContainer(found.conversationId, found.container, 'stopped by the dashboard', false);
    this.deps.audit?.({ type: 'admin.stop_container', conversation: found.conversationId, container: name, actor, data: {} });
    return true;
  }
}
