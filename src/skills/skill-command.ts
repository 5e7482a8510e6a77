import type { OpActor } from '../core/ops.ts';
import { bounded } from './skill-diff.ts';
import type { SkillOps } from './skill-ops.ts';

/** A chat message is read on a phone: long texts are cut, with where to read them whole. */
const CHAT_MAX = 3500;

const USAGE = [
  '/skills — the skills and the proposals waiting',
  '/skills show <name> — a skill\'s instructions and files',
  '/skills proposals, /skills proposal <n> — drafts waiting, one draft whole',
  '/skills approve <n>, /skills reject <n> — decide a draft (owner)',
  '/skills enable <name>, /skills disable <name> (owner)',
  '/skills rollback <name> [hash] — back to an earlier version (owner)',
  '/skills history <name> — versions and changes',
].join('\n');

/**
 * The chat command /skills. Looking is open to anyone the conversation lets
 * in; changing (approve, reject, enable, disable, rollback) is the owner's,
 * checked in SkillOps against `who`, never against the chat. The audit
 * record of a change names `conversationId`, where it was asked.
 *
 *   skillCommand(ops, conv.id, 'approve 4', { actor: 'telegram:12345', owner: true });
 *   skillCommand(ops, conv.id, '', who);   // the list
 */
export function skillCommand(ops: SkillOps, conversationId: string, rawArg: string, who: OpActor): string {
  const [sub = 'list', ...rest] = rawArg.trim().split(/\s+/).filter(Boolean);
  const arg = rest[0];
  const number = (then: (n: number) => string): string => {
    const n = Number(arg?.replace(/^#/, ''));
    return Number.isInteger(n) && n > 0 ? then(n) : `Give the draft's number: /skills ${sub} 4 (/skills proposals lists them).`;
  };
  const named = (then: (name: string) => string): string => (arg ? then(arg) : `Give the skill's name: /skills ${sub} <name> (/skills lists them).`);
  switch (sub) {
    case 'list': return ops.list().text;
    case 'show': return named((n) => bounded(ops.show(n, rest[1]).text, CHAT_MAX, `nanoclaw skills show ${n}`));
    case 'proposals': return ops.proposals().text;
    case 'proposal': case 'show-proposal': return number((n) => bounded(ops.showProposal(n).text, CHAT_MAX, `nanoclaw skills show-proposal ${n}`));
    case 'approve': return number((n) => ops.approve(n, who, conversationId).text);
    case 'reject': return number((n) => ops.reject(n, who, conversationId).text);
    case 'enable': return named((n) => ops.enable(n, who, conversationId).text);
    case 'disable': return named((n) => ops.disable(n, who, conversationId).text);
    case 'rollback': return named((n) => ops.rollback(n, rest[1], who, conversationId).text);
    case 'history': return named((n) => bounded(ops.history(n).text, CHAT_MAX, `nanoclaw skills history ${n}`));
    case 'help': return USAGE;
    default: return `Unknown: /skills ${sub.slice(0, 40)}.\n${USAGE}`;
  }
}
