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
  schedule_task:
    'Schedule a task in this conversation: at its time the prompt you give runs as a turn of its own (you, with this ' +
    'conversation\'s workspace and memory), and what you answer then is posted here. Use it for reminders, briefings and ' +
    'checks the person asks for. `schedule` is one of: `at 2026-12-24 18:00` (local time), `in 20m`, `every 2h` ' +
    '(m, h or d), or `cron <5 fields>` (minute hour day-of-month month day-of-week, e.g. `cron 0 7 * * 1-5` for weekdays at 07:00). ' +
    'Times are in `timezone` (IANA, e.g. Europe/Berlin), else the configured zone. Write the prompt as an instruction to ' +
    'your future self with everything it needs, since it runs without this conversation\'s latest messages in view. ' +
    '`missed`: what a run due while NanoClaw was not running does when it is back: `run` (once, late; the default) or `skip`.',
  list_tasks: 'List the scheduled tasks of this conversation: id, name, schedule, state and next run.',
  change_task:
    'Change a scheduled task of this conversation by its id (list_tasks shows them): `pause`, `resume`, `cancel`, or `edit` ' +
    'with any of schedule, prompt, name, timezone, missed (as in schedule_task).',
  propose_skill:
    'Propose a new skill, or a new version of one, for the owner to approve. Draft it first in your workspace as a folder ' +
    'named after the skill (lowercase letters, digits, hyphens), holding SKILL.md: YAML front matter with `name` (the folder\'s ' +
    'name) and `description` (what it does and when to use it), then the instructions in Markdown; other files (scripts, ' +
    'references) may sit beside it. `path` is that folder. The owner is shown the draft and what changed and approves or ' +
    'rejects it; it is used only once approved. Only the owner can have skills proposed. Say in `note` what it is for or what changed.',
};

export const HOST_TOOL_DEFS = HOST_TOOLS.map((name) => ({ name, description: HOST_TOOL_DESCRIPTIONS[name], input: HostToolInputs[name] }));
