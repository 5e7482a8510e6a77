import { ENGINES, type EngineName } from '../protocol/messages.ts';
import type { AgentOverride, Conversation } from '../store/store.ts';
import { agentPlan, planProblem, type AgentPlan } from './agent-plan.ts';
import type { CommandContext } from './commands.ts';

/**
 * `/model`: shows which engine and providers this conversation runs; the
 * owner can change them for this conversation alone (audited):
 *
 *   /model                          what runs here, and the providers there are
 *   /model builtin                  the built-in engine, same providers
 *   /model builtin groq,anthropic   engine and provider chain (first choice first)
 *   /model groq                     the provider chain only
 *   /model reset                    back to what the config says
 *
 * A change takes effect with the next message, in a new container: the
 * workspace stays; a change of engine starts a new session (the engines keep
 * their transcripts differently), a change of providers keeps it.
 */
export async function modelCommand(ctx: CommandContext, conv: Conversation, arg: string, who: { owner: boolean; actor: string }): Promise<string> {
  const current = agentPlan(ctx.config, conv);
  if (!arg) return describe(ctx, current, conv.agentChoice !== null);
  if (!who.owner) return '/model <choice> is for the owner only.';

  let choice: AgentOverride | null;
  if (arg === 'reset') choice = null;
  else {
    const words = arg.split(/[\s,]+/).filter(Boolean);
    const engine = ENGINES.find((e) => e === words[0]) as EngineName | undefined;
    const providers = engine ? words.slice(1) : words;
    choice = { ...(conv.agentChoice ?? {}), ...(engine ? { engine } : {}), ...(providers.length ? { providers } : {}) };
  }
  const next = agentPlan(ctx.config, { ...conv, agentChoice: choice });
  const problem = planProblem(ctx.config, ctx.providers, next);
  if (problem) return `Not changed: ${problem}.`;
  if (same(next, current)) return `Already so: ${summary(ctx, next)}.`;

  ctx.store.updateConversation(conv.id, { agentChoice: choice });
  ctx.audit?.({ type: 'admin.model', conversation: conv.id, actor: who.actor, data: { from: current, to: next } });
  const live = ctx.liveContainer(conv.id);
  // The running turn finishes where it is; the next message starts the new engine.
  if (live && live.idle) await ctx.endContainer(conv.id, live, 'its model was changed (/model)', false);
  const engineChanged = next.engine !== current.engine;
  if (engineChanged) ctx.store.updateConversation(conv.id, { sessionId: null });
  return `Changed: ${summary(ctx, next)}. It applies from your next message${engineChanged ? '; the new engine starts a fresh session (files in the workspace stay)' : ''}.`;
}

function describe(ctx: CommandContext, plan: AgentPlan, overridden: boolean): string {
  const known = ctx.providers.all.map((p) => `${p.name} (${p.settings.kind}, ${p.settings.model}${p.missingKey ? ', no key' : ''})`).join(', ');
  return `This conversation runs ${summary(ctx, plan)}${overridden ? ' (set with /model; /model reset returns to the config)' : ''}. ` +
    `Engines: ${ENGINES.join(', ')}. Providers: ${known}. The owner can change it: /model [engine] [provider,provider...].`;
}

function summary(ctx: CommandContext, plan: AgentPlan): string {
  const chain = plan.providers.map((n) => `${n} (${ctx.providers.get(n)?.settings.model ?? '?'})`).join(' then ');
  return `the ${plan.engine} engine with ${chain}`;
}

function same(a: AgentPlan, b: AgentPlan): boolean {
  return a.engine === b.engine && a.providers.join(',') === b.providers.join(',');
}
