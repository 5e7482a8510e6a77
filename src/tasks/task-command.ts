import type { OpActor } from '../core/ops.ts';
import type { TaskOps } from './task-ops.ts';

const HELP = [
  'Scheduled tasks of this conversation:',
  '/tasks: list them',
  '/tasks add <schedule> -- <what to do>: e.g. /tasks add cron 0 7 * * * -- Summarise my inbox',
  '  schedules: `every 30m`, `every 1d`, `cron 0 7 * * 1-5`, `at 2026-12-24 18:00`, `at 18:00`, `in 20m`',
  '/tasks pause|resume|cancel <id>',
  '/tasks edit <id> schedule|prompt|name|timezone|missed <value>  (missed: run or skip)',
  '/tasks show <id>: its prompt and last run; /tasks runs <id>: its latest runs',
  'Anyone here can list; a change needs the owner or whoever added the task.',
].join('\n');

const EDIT_FIELDS = ['schedule', 'prompt', 'name', 'timezone', 'missed'] as const;

/**
 * The `/tasks` chat command. `rawArg` keeps its case (a prompt, a zone name).
 * Permission (owner or the task's creator) is checked by TaskOps.
 *
 *   taskCommand(ops, conv.id, 'add every 1d -- Water the plants', { actor: 'telegram:42', owner: false });
 *   taskCommand(ops, conv.id, 'pause 3', who); // 'Task #3 "Water the plants" is paused. …'
 */
export function taskCommand(ops: TaskOps, conversationId: string, rawArg: string, who: OpActor): string {
  const arg = rawArg.trim();
  const [verbRaw = ''] = arg.split(/\s+/, 1);
  const verb = verbRaw.toLowerCase();
  const rest = arg.slice(verbRaw.length).trim();
  switch (verb) {
    case '':
    case 'list':
      return ops.list({ conversationId }).text;
    case 'help':
      return HELP;
    case 'add': {
      // The first separator splits: a prompt may contain `--` itself.
      const m = /^(.*?)\s+(?:--|—)\s+([\s\S]+)$/.exec(rest) ?? /^(.*?)\s*(?:--|—)\s*([\s\S]+)$/.exec(rest);
      if (!m || !m[1].trim()) return 'Use /tasks add <schedule> -- <what to do>, e.g. /tasks add every 1d -- Summarise the news.';
      return ops.create({ conversationId, schedule: m[1], prompt: m[2] }, who).text;
    }
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'runs':
    case 'show': {
      const id = taskId(rest);
      if (id === undefined) return `Use /tasks ${verb} <id>; /tasks lists the ids.`;
      if (verb === 'runs') return ops.runs(id, conversationId).text;
      if (verb === 'show') return ops.show(id, conversationId).text;
      return ops[verb](id, who, conversationId).text;
    }
    case 'edit': {
      const m = /^(\S+)\s+(\S+)\s+([\s\S]+)$/.exec(rest);
      const id = m ? taskId(m[1]) : undefined;
      const field = m?.[2].toLowerCase() as (typeof EDIT_FIELDS)[number] | undefined;
      if (!m || id === undefined || !field || !EDIT_FIELDS.includes(field)) {
        return 'Use /tasks edit <id> schedule|prompt|name|timezone|missed <value>, e.g. /tasks edit 3 schedule cron 30 6 * * *.';
      }
      const value = m[3].trim();
      if (field === 'missed') {
        const policy = value.toLowerCase();
        if (policy !== 'run' && policy !== 'skip') return 'missed is `run` (a run missed while NanoClaw was down runs once, late) or `skip` (it is skipped, with a notice).';
        return ops.edit(id, { missed: policy }, who, conversationId).text;
      }
      return ops.edit(id, { [field]: value }, who, conversationId).text;
    }
    default:
      return `Unknown /tasks ${verbRaw.slice(0, 20)}.\n${HELP}`;
  }
}

/** `3` or `#3`. */
function taskId(text: string): number | undefined {
  const m = /^#?(\d{1,9})$/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}
