import { createTwoFilesPatch } from 'diff';
import type { SkillFile } from './skill-folder.ts';
import { SKILL_MD } from './skill-format.ts';

/**
 * What the owner reads before approving a skill: for a new version, the
 * unified diff of each changed file against the version in use (and each
 * exec bit that changed); for a new skill, every file whole, SKILL.md first.
 * The scripts matter as much as SKILL.md: the skills found malicious on
 * public hubs hid their payload in "prerequisites" the instructions ran.
 *
 *   const full = describeChange(activeFiles, draftFiles);
 *   bounded(full, 3500, 'nanoclaw skills show-proposal 4');
 */
export function describeChange(base: readonly SkillFile[] | undefined, next: readonly SkillFile[]): string {
  const order = (files: readonly SkillFile[]) => [...files].sort((a, b) => (a.path === SKILL_MD ? -1 : b.path === SKILL_MD ? 1 : a.path < b.path ? -1 : 1));
  if (!base) {
    return order(next).map((f) => `── ${f.path}${f.exec ? ' (executable)' : ''} ──\n${shownText(f)}`).join('\n\n');
  }
  const before = new Map(base.map((f) => [f.path, f]));
  const after = new Map(next.map((f) => [f.path, f]));
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort((a, b) => (a === SKILL_MD ? -1 : b === SKILL_MD ? 1 : a < b ? -1 : 1));
  const parts: string[] = [];
  for (const path of paths) {
    const a = before.get(path);
    const b = after.get(path);
    if (a && b && a.exec !== b.exec) parts.push(`mode of ${path}: ${a.exec ? 'executable' : 'not executable'} → ${b.exec ? 'executable' : 'not executable'}`);
    if (a && b && a.data.equals(b.data)) continue;
    if ((a && !isText(a.data)) || (b && !isText(b.data))) {
      parts.push(!a ? `new binary file ${path} (${b!.data.length} bytes)` : !b ? `removed binary file ${path}` : `binary file ${path} changed (${a.data.length} → ${b.data.length} bytes)`);
      continue;
    }
    const patch = createTwoFilesPatch(a ? `a/${path}` : '/dev/null', b ? `b/${path}` : '/dev/null', a ? a.data.toString('utf8') : '', b ? b.data.toString('utf8') : '', undefined, undefined, { context: 3 });
    // Drop the "====" line the package puts first; the ---/+++ headers name the file.
    parts.push(patch.split('\n').filter((l) => !/^=+$/.test(l)).join('\n').trimEnd());
  }
  return parts.join('\n');
}

/**
 * `text` cut to about `max` characters at a line end, with a last line
 * saying how many lines were left out and `where` to read them all.
 */
export function bounded(text: string, max: number, where: string): string {
  if (text.length <= max) return text;
  const lines = text.split('\n');
  let used = 0;
  let kept = 0;
  while (kept < lines.length && used + lines[kept].length + 1 <= max) used += lines[kept++].length + 1;
  if (kept === 0) return `${text.slice(0, max)}\n… more: \`${where}\` shows all.`;
  return `${lines.slice(0, kept).join('\n')}\n… ${lines.length - kept} more lines: \`${where}\` shows all.`;
}

function shownText(f: SkillFile): string {
  return isText(f.data) ? f.data.toString('utf8').trimEnd() : `(binary, ${f.data.length} bytes)`;
}

function isText(data: Buffer): boolean {
  if (data.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}
