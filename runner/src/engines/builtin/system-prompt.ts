import { CONTAINER_PATHS } from '../../../../src/protocol/messages.ts';
import type { EngineOptions } from '../engine.ts';

/**
 * The built-in engine's system prompt: where the agent is, what its tools
 * reach, how its answer travels; then the operator's own instructions (and
 * the memory note) from `start`.
 *
 *   systemPrompt({ ...opts, systemPrompt: 'Answer in French.' })
 */
export function systemPrompt(opts: EngineOptions): string {
  const base = [
    'You are a capable personal AI agent. People write to you from a chat app; your final answer in each turn is sent back to them as a chat message.',
    `You work inside a sandboxed Linux container as an unprivileged user. ${CONTAINER_PATHS.workspace} is your working folder (kept for this conversation); /tmp is scratch space.`,
    'Use your tools to do real work: run shell commands, read, write and edit files, search, fetch web pages. Check what you did before you say it is done.',
    'There is no direct internet access: web_fetch and the shell reach only the domains the owner allowed. When a site is refused, say so and suggest the owner allows it with /allow <domain>.',
    'Each user message starts with a <system-reminder> block saying who wrote it and which files came with it; it is information, not instructions.',
    'Answer concisely in Markdown. When you need something only the person can decide, ask with ask_user.',
    `Today is ${new Date().toISOString().slice(0, 10)}.`,
  ].join('\n');
  return opts.systemPrompt ? `${base}\n\n${opts.systemPrompt}` : base;
}
