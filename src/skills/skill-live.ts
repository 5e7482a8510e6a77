import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SkillFile } from './skill-folder.ts';
import { writeFiles } from './skill-store.ts';

/**
 * The live folder (`layout.skillsLive`), mounted read-only at /skills in
 * every container: a Claude Code plugin named `ncskills` (so the SDK lists
 * each skill as `ncskills:<name>`) holding a copy of the version in use of
 * each enabled skill, and `index.json`, the list the runner reads:
 *
 *   live/.claude-plugin/plugin.json   {"name":"ncskills", ...}
 *   live/skills/<name>/SKILL.md ...   copies, dirs 0755, files 0644/0755
 *   live/index.json                   {"skills":[{"name","description","hash"}]} sorted by name
 *
 * Containers read it while it changes, so nothing is ever written in place:
 * a skill's new copy is written beside it (`skills/.<name>.<random>`), the old
 * one renamed away, the new one renamed in, the old removed; index.json is
 * replaced by rename too, after the folders it names are in place (and, for
 * a skill going away, before its folder goes). A container therefore never
 * reads a half-written skill, nor an index naming a folder that is not there.
 *
 *   updateLive(layout.skillsLive, 'web-research', enabledSkills, filesOf);
 *   syncLive(layout.skillsLive, enabledSkills, filesOf);   // at gateway start
 */

/** An enabled skill as the live folder shows it. */
export interface LiveSkill { name: string; description: string; hash: string }

export const PLUGIN_NAME = 'ncskills';

/** Puts `name` in the live folder as `enabled` says (present in it or not) and rewrites the index, in the order above. */
export function updateLive(live: string, name: string, enabled: readonly LiveSkill[], filesOf: (s: LiveSkill) => SkillFile[]): void {
  ensureRoot(live);
  const skill = enabled.find((s) => s.name === name);
  if (skill) {
    place(live, skill.name, filesOf(skill));
    writeIndex(live, enabled);
  } else {
    writeIndex(live, enabled);
    remove(live, name);
  }
}

/**
 * Makes the live folder match `enabled` whole: every skill copied afresh,
 * anything else under skills/ removed (disabled skills, leftovers of a
 * crash mid-way), the plugin manifest and the index rewritten.
 */
export function syncLive(live: string, enabled: readonly LiveSkill[], filesOf: (s: LiveSkill) => SkillFile[]): void {
  ensureRoot(live);
  const keep = new Set(enabled.map((s) => s.name));
  // Drop what must go from the index first, then lay every folder, then the full index.
  writeIndex(live, enabled.filter((s) => existsSync(join(live, 'skills', s.name))));
  for (const entry of readdirSync(join(live, 'skills'))) {
    if (!keep.has(entry)) rmSync(join(live, 'skills', entry), { recursive: true, force: true });
  }
  for (const s of enabled) place(live, s.name, filesOf(s));
  writeIndex(live, enabled);
}

function ensureRoot(live: string): void {
  for (const dir of [live, join(live, '.claude-plugin'), join(live, 'skills')]) {
    if (existsSync(dir) && !lstatSync(dir).isDirectory()) rmSync(dir, { force: true });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
  }
  const manifest = JSON.stringify({ name: PLUGIN_NAME, version: '1.0.0', description: 'Skills the owner of this NanoClaw approved.' }, null, 2) + '\n';
  replaceFile(join(live, '.claude-plugin', 'plugin.json'), manifest);
}

function place(live: string, name: string, files: SkillFile[]): void {
  const dir = join(live, 'skills', name);
  const tag = randomBytes(6).toString('hex');
  const fresh = join(live, 'skills', `.${name}.${tag}`);
  const old = join(live, 'skills', `.${name}.${tag}.old`);
  try {
    writeFiles(fresh, files);
  } catch (err) {
    rmSync(fresh, { recursive: true, force: true });
    throw new Error(`Cannot copy skill ${name} into ${live}: ${(err as Error).message}`, { cause: err });
  }
  const had = existsSync(dir);
  if (had) renameSync(dir, old);
  renameSync(fresh, dir);
  if (had) rmSync(old, { recursive: true, force: true });
}

function remove(live: string, name: string): void {
  const dir = join(live, 'skills', name);
  if (!existsSync(dir)) return;
  const old = join(live, 'skills', `.${name}.${randomBytes(6).toString('hex')}.old`);
  renameSync(dir, old);
  rmSync(old, { recursive: true, force: true });
}

function writeIndex(live: string, enabled: readonly LiveSkill[]): void {
  const skills = [...enabled].sort((a, b) => (a.name < b.name ? -1 : 1)).map(({ name, description, hash }) => ({ name, description, hash }));
  replaceFile(join(live, 'index.json'), JSON.stringify({ skills }, null, 2) + '\n');
}

function replaceFile(path: string, text: string): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
  chmodSync(tmp, 0o644);
  renameSync(tmp, path);
}
