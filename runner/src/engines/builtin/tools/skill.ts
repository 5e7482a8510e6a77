import { constants } from 'node:fs';
import { lstat, open, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Skill } from '../../../skills.ts';
import { defineTool } from './define-tool.ts';
import type { Tool } from './tool.ts';

/** Most of a SKILL.md shown; the rest is named as cut. */
const MAX_SKILL_BYTES = 64 * 1024;
/** Most other files of a skill listed, how deep the listing goes, and how many entries it looks at in all. */
const MAX_LISTED = 100;
const MAX_DEPTH = 4;
const MAX_SEEN = 1000;

/**
 * `skill`: the instructions of one approved skill (its SKILL.md) and the
 * paths of its other files, which `read` and `shell` then open. The system
 * prompt lists the skills by name and description; this tool is how the
 * model loads one when it applies, so the prompt carries only the list.
 *
 * The folder is host-written and read-only, but read as untrusted anyway:
 * SKILL.md is opened without following a link and without waiting on a FIFO
 * (refused unless it is a regular file), the folders on the way are checked
 * not to be links, and the text and the listing are bounded. Only names
 * from the current index are looked up, so no input of the model becomes a
 * path.
 *
 *   const tool = skillTool('/skills', [{ name: 'tide-table', description: '…', hash: 'h1' }]);
 *   await tool.run({ name: 'tide-table' }, ctx);   // SKILL.md, then /skills/skills/tide-table/… files
 */
export function skillTool(skillsDir: string, skills: Skill[]): Tool {
  return defineTool({
    name: 'skill',
    // The same description whatever the skills are: the tools stay one prompt-cache prefix while skills come and go.
    description:
      'Load an approved skill: returns its instructions (SKILL.md) and the paths of its other files (scripts, references), which you can open with read. ' +
      'The system prompt lists the skills there are. Call this before you act on a task a skill covers, and follow what it says.',
    schema: z.object({
      name: z.string().min(1).max(64).describe('The skill\'s name, as listed under Skills in the system prompt.'),
    }),
    async run({ name }) {
      const skill = skills.find((s) => s.name === name);
      if (!skill) {
        const known = skills.map((s) => s.name).join(', ');
        return { text: `There is no skill named "${name}". Skills: ${known || 'none'}.`, isError: true };
      }
      const folder = join(skillsDir, 'skills', skill.name);
      for (const dir of [join(skillsDir, 'skills'), folder]) {
        const problem = await notAFolder(dir);
        if (problem) return { text: `The skill ${name} cannot be loaded: ${problem}.`, isError: true };
      }
      const instructions = await readSkillFile(join(folder, 'SKILL.md'));
      if ('error' in instructions) return { text: `The skill ${name} cannot be loaded: ${instructions.error}.`, isError: true };
      const files = await listFiles(folder);
      const others = files.paths.filter((p) => p !== join(folder, 'SKILL.md'));
      const listing = others.length
        ? `\n\nOther files of this skill (open them with read):\n${others.join('\n')}${files.more ? '\n(more files not listed)' : ''}`
        : '';
      return { text: `Skill ${name} (${join(folder, 'SKILL.md')}):\n\n${instructions.text}${listing}` };
    },
  });
}

/** Why `dir` is not a real folder (a link, a file, missing), or undefined when it is one. */
async function notAFolder(dir: string): Promise<string | undefined> {
  try {
    const st = await lstat(dir);
    if (st.isSymbolicLink()) return `${dir} is a link, and skills are read without following links`;
    if (!st.isDirectory()) return `${dir} is not a folder`;
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${dir} is missing` : `${dir} cannot be read (${(err as Error).message})`;
  }
}

async function readSkillFile(file: string): Promise<{ text: string } | { error: string }> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO opens at once (and is refused below) instead of holding the turn.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { error: `${file} is a link, and skills are read without following links` };
    if (code === 'ENOENT') return { error: `${file} is missing` };
    return { error: `${file} cannot be opened (${(err as Error).message})` };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { error: `${file} is not a regular file` };
    const buf = Buffer.alloc(MAX_SKILL_BYTES);
    let read = 0;
    for (let n; read < buf.length && (n = (await handle.read(buf, read, buf.length - read, read)).bytesRead) > 0;) read += n;
    // A cut may fall inside a character: the decoder shows it as a replacement, which is fine for a note that says it was cut.
    const text = buf.subarray(0, read).toString('utf8');
    return { text: st.size > MAX_SKILL_BYTES ? `${text}\n\n[SKILL.md cut at ${MAX_SKILL_BYTES} bytes of ${st.size}.]` : text };
  } finally {
    await handle.close();
  }
}

/** The regular files under `folder`, as full paths, sorted; links and special files are left out, and so is anything past the bounds. */
async function listFiles(folder: string): Promise<{ paths: string[]; more: boolean }> {
  const paths: string[] = [];
  let seen = 0;
  let more = false;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try { entries = await opendir(dir); } catch { return; }
    // Dirent types come from the folder itself (no stat, so no link is followed).
    try {
      for await (const entry of entries) {
        if (++seen > MAX_SEEN || paths.length >= MAX_LISTED) { more = true; break; }
        const full = join(dir, entry.name);
        if (entry.isFile()) paths.push(full);
        else if (entry.isDirectory() && depth < MAX_DEPTH) await walk(full, depth + 1);
      }
    } catch {
      // A folder that cannot be listed to the end: what was listed stands.
    }
  };
  await walk(folder, 0);
  return { paths: paths.sort(), more };
}
