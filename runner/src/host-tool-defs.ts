import { CONTAINER_PATHS, HOST_TOOLS, HostToolInputs, LIMITS, type HostToolName } from '../../src/protocol/messages.ts';

const outbox = `${CONTAINER_PATHS.workspace}/outbox`;

/**
 * What the model is told of each host tool (HOST_TOOLS): both engines offer
 * the same tools with these words and the protocol's own input schemas, so
 * an input the host would refuse is refused before it leaves the runner.
 * The descriptions say what each does, when to use it, and what happens
 * anyway without it.
 *
 *   for (const t of HOST_TOOL_DEFS) offer(t.name, t.description, t.input);
 */
export const HOST_TOOL_DESCRIPTIONS: Record<HostToolName, string> = {
  send_message:
    'Send a message to the person you are working for right now, while you keep working: a progress note, ' +
    'a partial result, a heads-up before something slow. Your reply at the end of the turn is sent anyway, ' +
    `so use this only for what should reach them before it. Markdown is fine; at most ${LIMITS.callText} characters. ` +
    'Returns once the message is on its way.',
  send_file:
    `Send a file from your workspace to the person now, with an optional caption. \`path\` names a file under ${CONTAINER_PATHS.workspace}, ` +
    `absolute (${CONTAINER_PATHS.workspace}/report.pdf) or relative to ${CONTAINER_PATHS.workspace} (report.pdf); files elsewhere cannot be sent. ` +
    `Files you put in ${outbox} are sent after the turn anyway: use this tool when the file should arrive before your reply.`,
  ask_user:
    'Ask the person a question and wait for their answer, which this tool returns as text. Use it when you cannot ' +
    'go on well without them (a choice only they can make, a missing detail); it may take them minutes to answer. ' +
    `Offer \`choices\` (up to ${LIMITS.choices} short options) when the answer is one of a few; they may still answer in their own words.`,
  compose_mail:
    'Write a new email (not a reply) to up to ' + `${LIMITS.recipients} addresses, with a subject and a plain-text body. ` +
    'Nothing is sent until the person you work for confirms: they are shown the draft (recipients, subject, body) ' +
    'and asked "Send" or "Don\'t send", and this tool returns whether it was sent. Only your owner can have mail sent, ' +
    'so the tool is refused in anyone else\'s conversation. It needs the email or Gmail channel running; when both are, ' +
    'name one in `via`. To answer a mail in its thread, reply normally instead.',
};

export const HOST_TOOL_DEFS = HOST_TOOLS.map((name) => ({ name, description: HOST_TOOL_DESCRIPTIONS[name], input: HostToolInputs[name] }));
