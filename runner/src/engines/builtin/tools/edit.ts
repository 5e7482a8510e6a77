import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { findMatches, type MatchRange } from './edit-match.ts';
import { fileTarget, replaceFile } from './file-replace.ts';
import { resolveToolPath } from './tool-path.ts';

/** Largest file edit changes; beyond it, a program (sed, a script) does the job better. */
const EDIT_MAX_BYTES = 5 * 1024 * 1024;
const CONTEXT_LINES = 2;
const EXCERPT_MAX_LINES = 12;
const EXCERPTS = 3;

/**
 * `edit`: replaces one exact piece of a file. old_text must occur once (or
 * replace_all must be set), so an edit never lands on the wrong one of two
 * similar places; the answer shows the changed lines so the model can check
 * them without reading the file again.
 *
 *   await editTool.run({ path: 'a.ts', old_text: 'let x = 1;', new_text: 'let x = 2;' }, ctx);
 */
export const editTool = defineTool({
  name: 'edit',
  description:
    'Replace text in an existing file: old_text must match the file exactly (including indentation) and occur exactly once, ' +
    'else nothing changes and the answer says how many times it occurs; include a few surrounding lines to make it unique, ' +
    'or set replace_all to change every occurrence. If no exact match exists, a match that ignores trailing whitespace and ' +
    'curly quotes/dashes is tried. Read the file first. Use write for new files or complete rewrites. Answers with the changed lines.',
  schema: z.object({
    path: z.string().min(1).describe('File to change, absolute or relative to the workspace.'),
    old_text: z.string().min(1).describe('The text to replace, copied exactly from the file.'),
    new_text: z.string().describe('The text to put in its place (empty to delete it).'),
    replace_all: z.boolean().optional().describe('Replace every occurrence instead of requiring exactly one; default false.'),
  }),
  async run({ path, old_text: oldText, new_text: newText, replace_all: replaceAll }, ctx) {
    if (oldText === newText) return { text: 'old_text and new_text are the same; nothing to change.', isError: true };
    const full = resolveToolPath(path, ctx);
    const target = await fileTarget(full);
    if ('refused' in target) return { text: target.refused, isError: true };
    if (!target.exists) return { text: `No such file: ${full}. Use write to create a new file, or glob to find the right name.`, isError: true };
    if (target.size > EDIT_MAX_BYTES) return { text: `${target.path} is ${target.size} bytes, more than edit handles (${EDIT_MAX_BYTES}); change it with shell (sed, a script).`, isError: true };

    const raw = await readFile(target.path);
    if (raw.subarray(0, 8192).includes(0)) return { text: `${target.path} is a binary file; edit changes text files only.`, isError: true };
    const content = raw.toString('utf8');

    const { ranges, loose } = findMatches(content, oldText);
    if (ranges.length === 0) {
      return { text: `old_text was not found in ${target.path}. Read the file again and copy the text exactly, including indentation and line breaks.`, isError: true };
    }
    if (ranges.length > 1 && !replaceAll) {
      const lines = ranges.slice(0, 10).map((r) => lineOf(content, r.start)).join(', ');
      return { text: `old_text occurs ${ranges.length} times in ${target.path} (at lines ${lines}${ranges.length > 10 ? ', ...' : ''}). Include more surrounding lines so it matches once, or set replace_all to change all of them.`, isError: true };
    }
    // A loose match in a CRLF file: the model typed \n, the file keeps its own line ends.
    const replacement = loose && content.includes('\r\n') && !newText.includes('\r') ? newText.replace(/\n/g, '\r\n') : newText;

    let updated = '';
    let from = 0;
    const placed: MatchRange[] = []; // where each replacement sits in the new content
    for (const r of ranges) {
      updated += content.slice(from, r.start);
      placed.push({ start: updated.length, end: updated.length + replacement.length });
      updated += replacement;
      from = r.end;
    }
    updated += content.slice(from);

    try {
      await replaceFile(target.path, updated, target.mode);
    } catch (e) {
      return { text: `Could not write ${target.path}: ${(e as Error).message}`, isError: true };
    }
    const how = loose ? ' (matched ignoring trailing whitespace and quote/dash style)' : '';
    const count = ranges.length === 1 ? '1 occurrence' : `${ranges.length} occurrences`;
    const excerpts = ranges.slice(0, EXCERPTS).map((r, i) => excerpt(content, r, updated, placed[i]));
    const rest = ranges.length > EXCERPTS ? `\n(${ranges.length - EXCERPTS} more changes not shown)` : '';
    return { text: `Edited ${target.path}: replaced ${count}${how}.\n${excerpts.join('\n')}${rest}` };
  },
});

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * A unified-diff-like view of one replacement: the whole lines it touched
 * before (-) and after (+), with two lines of context. Text after a
 * replacement is unchanged up to the next one, so the new lines' end is the
 * old lines' end shifted by how much this replacement grew.
 */
function excerpt(oldContent: string, oldRange: MatchRange, newContent: string, newRange: MatchRange): string {
  const lineStart = oldContent.lastIndexOf('\n', oldRange.start - 1) + 1;
  // A range that ends with its line end touches only the lines before it.
  const endAt = oldRange.end > oldRange.start && oldContent[oldRange.end - 1] === '\n' ? oldRange.end - 1 : oldRange.end;
  let lineEnd = oldContent.indexOf('\n', endAt);
  if (lineEnd === -1) lineEnd = oldContent.length;
  const newStart = lineStart + (newRange.start - oldRange.start);
  const newEnd = lineEnd + (newRange.end - oldRange.end);

  const split = (text: string) => text.split('\n').map((l) => l.replace(/\r$/, ''));
  const bounded = (sign: string, lines: string[]) => {
    const shown = lines.slice(0, EXCERPT_MAX_LINES).map((l) => sign + l);
    if (lines.length > EXCERPT_MAX_LINES) shown.push(`${sign}... (${lines.length - EXCERPT_MAX_LINES} more lines)`);
    return shown;
  };
  const before = lineStart === 0 ? [] : split(oldContent.slice(0, lineStart - 1)).slice(-CONTEXT_LINES);
  const after = lineEnd + 1 >= oldContent.length ? [] : split(oldContent.slice(lineEnd + 1)).slice(0, CONTEXT_LINES);
  const removed = bounded('-', split(oldContent.slice(lineStart, lineEnd)));
  const added = newEnd < newStart ? [] : bounded('+', split(newContent.slice(newStart, newEnd)));
  return [`@@ line ${lineOf(oldContent, oldRange.start)} @@`, ...before.map((l) => ' ' + l), ...removed, ...added, ...after.map((l) => ' ' + l)].join('\n');
}
