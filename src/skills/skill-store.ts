import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HomeLayout } from '../config/home.ts';
import type { SkillDraft, SkillFile } from './skill-folder.ts';

/**
 * Skills in the store: every version by content hash (files under
 * `skills/versions/<name>/<hash>/`, a row in skill_versions), the proposals
 * waiting for the owner, which version of each skill is in use and whether
 * it is on, and the history of every change. A version is written once
 * (temp folder, then rename) and never changed or deleted, so any of them
 * can come back with a rollback. Only the gateway and the CLI write here;
 * no container sees these folders (the live copy is skill-live.ts).
 *
 *   const store = new SkillStore(db, layout, Date.now);
 *   store.saveVersion(draft, hash, 'bundled');
 *   store.setActive('web-research', hash, 'cli');
 */

export interface SkillVersionRow { name: string; hash: string; description: string; source: string; createdAt: number }
export interface SkillRow { name: string; hash: string; enabled: boolean; updatedBy: string; updatedAt: number }
export type ProposalState = 'pending' | 'approved' | 'rejected' | 'superseded';
export interface ProposalRow {
  id: number; name: string; hash: string; baseHash: string | null; conversationId: string | null;
  proposedBy: string; state: ProposalState; decidedBy: string | null; createdAt: number; decidedAt: number | null;
}
export type HistoryAction = 'proposed' | 'approved' | 'rejected' | 'installed' | 'enabled' | 'disabled' | 'rolled_back';
export interface HistoryRow { id: number; name: string; action: HistoryAction; hash: string | null; actor: string; at: number }

/** The actions after which `hash` is the version in use (what a rollback goes back through). */
export const ACTIVATING: readonly HistoryAction[] = ['approved', 'installed', 'rolled_back'];

export class SkillStore {
  constructor(private readonly db: Database.Database, private readonly layout: HomeLayout, private readonly clock: () => number = Date.now) {}

  /** Where the files of one version live. */
  versionDir(name: string, hash: string): string {
    return join(this.layout.skills, 'versions', name, hash);
  }

  /**
   * Keeps a version: its files (unless that hash is already there: a version
   * is immutable) and its row. The files go to a temp folder first and are
   * renamed in whole, so a crash leaves no half-written version under its hash.
   */
  saveVersion(draft: SkillDraft, hash: string, source: string): void {
    const dir = this.versionDir(draft.name, hash);
    if (!existsSync(dir)) {
      mkdirSync(this.layout.skills, { recursive: true, mode: 0o700 });
      mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
      const tmp = join(dirname(dir), `.tmp-${randomBytes(6).toString('hex')}`);
      try {
        writeFiles(tmp, draft.files);
        renameSync(tmp, dir);
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(dir)) throw new Error(`Cannot keep skill ${draft.name} version ${hash.slice(0, 12)} in ${dir}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.db.prepare('INSERT OR IGNORE INTO skill_versions (name, hash, description, source, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(draft.name, hash, draft.manifest.description, source, this.clock());
  }

  /** The files of a stored version, sorted by path. */
  readVersion(name: string, hash: string): SkillFile[] {
    const root = this.versionDir(name, hash);
    if (!existsSync(root)) throw new Error(`The files of skill ${name} version ${hash.slice(0, 12)} are missing from ${root}; install the skill again (nanoclaw skills install <folder>).`);
    return readTree(root, '').sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  version(name: string, hash: string): SkillVersionRow | undefined {
    const r = this.db.prepare('SELECT * FROM skill_versions WHERE name = ? AND hash = ?').get(name, hash) as any;
    return r && versionRow(r);
  }

  versionsOf(name: string): SkillVersionRow[] {
    return (this.db.prepare('SELECT * FROM skill_versions WHERE name = ? ORDER BY created_at, rowid').all(name) as any[]).map(versionRow);
  }

  /** The versions of `name` whose hash starts with `prefix`. */
  versionsByPrefix(name: string, prefix: string): SkillVersionRow[] {
    return this.versionsOf(name).filter((v) => v.hash.startsWith(prefix));
  }

  skill(name: string): SkillRow | undefined {
    const r = this.db.prepare('SELECT * FROM skills WHERE name = ?').get(name) as any;
    return r && skillRow(r);
  }

  skills(): SkillRow[] {
    return (this.db.prepare('SELECT * FROM skills ORDER BY name').all() as any[]).map(skillRow);
  }

  /** True when any version of `name` was ever stored (proposed, installed or bundled). */
  known(name: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM skill_versions WHERE name = ? LIMIT 1').get(name);
  }

  /** Makes `hash` the version in use of `name`, enabled. */
  setActive(name: string, hash: string, actor: string): void {
    this.db.prepare(`INSERT INTO skills (name, hash, enabled, updated_by, updated_at) VALUES (?, ?, 1, ?, ?)
      ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, enabled = 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at`)
      .run(name, hash, actor, this.clock());
  }

  setEnabled(name: string, enabled: boolean, actor: string): void {
    this.db.prepare('UPDATE skills SET enabled = ?, updated_by = ?, updated_at = ? WHERE name = ?').run(enabled ? 1 : 0, actor, this.clock(), name);
  }

  /** Records a pending proposal; an older pending one for the same skill is superseded. Returns its id and the ids it superseded. */
  addProposal(p: { name: string; hash: string; baseHash: string | null; conversationId: string | null; proposedBy: string }): { id: number; superseded: number[] } {
    return this.db.transaction(() => {
      const now = this.clock();
      const older = (this.db.prepare("SELECT id FROM skill_proposals WHERE name = ? AND state = 'pending'").all(p.name) as { id: number }[]).map((r) => r.id);
      this.db.prepare("UPDATE skill_proposals SET state = 'superseded', decided_by = ?, decided_at = ? WHERE name = ? AND state = 'pending'").run(p.proposedBy, now, p.name);
      const id = Number(this.db.prepare(`INSERT INTO skill_proposals (name, hash, base_hash, conversation_id, proposed_by, state, created_at)
        VALUES (?, ?, ?, ?, ?, 'pending', ?)`).run(p.name, p.hash, p.baseHash, p.conversationId, p.proposedBy, now).lastInsertRowid);
      return { id, superseded: older };
    })();
  }

  proposal(id: number): ProposalRow | undefined {
    const r = this.db.prepare('SELECT * FROM skill_proposals WHERE id = ?').get(id) as any;
    return r && proposalRow(r);
  }

  proposals(state?: ProposalState): ProposalRow[] {
    const rows = state
      ? this.db.prepare('SELECT * FROM skill_proposals WHERE state = ? ORDER BY id').all(state)
      : this.db.prepare('SELECT * FROM skill_proposals ORDER BY id').all();
    return (rows as any[]).map(proposalRow);
  }

  /** Decides a pending proposal; false when it was no longer pending (decided meanwhile). */
  decideProposal(id: number, state: 'approved' | 'rejected', actor: string): boolean {
    return this.db.prepare("UPDATE skill_proposals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'")
      .run(state, actor, this.clock(), id).changes === 1;
  }

  addHistory(name: string, action: HistoryAction, hash: string | null, actor: string): void {
    this.db.prepare('INSERT INTO skill_history (name, action, hash, actor, at) VALUES (?, ?, ?, ?, ?)').run(name, action, hash, actor, this.clock());
  }

  /** The history of `name`, oldest first. */
  history(name: string): HistoryRow[] {
    return (this.db.prepare('SELECT * FROM skill_history WHERE name = ? ORDER BY id').all(name) as any[])
      .map((r) => ({ id: r.id, name: r.name, action: r.action, hash: r.hash, actor: r.actor, at: r.at }));
  }

  /** Runs `fn` in one transaction (a decision and its history row land together or not at all). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

/** Writes files under a new folder `root`: folders 0755, files 0644 or 0755 (the container's user is not their owner). */
export function writeFiles(root: string, files: readonly SkillFile[]): void {
  mkdirSync(root, { mode: 0o755 });
  chmodSync(root, 0o755);
  for (const f of files) {
    const parts = f.path.split('/');
    let dir = root;
    for (const p of parts.slice(0, -1)) {
      dir = join(dir, p);
      if (!existsSync(dir)) { mkdirSync(dir, { mode: 0o755 }); chmodSync(dir, 0o755); }
    }
    const file = join(root, ...parts);
    writeFileSync(file, f.data, { mode: f.exec ? 0o755 : 0o644, flag: 'wx' });
    chmodSync(file, f.exec ? 0o755 : 0o644);
  }
}

/** The files under a folder the host wrote (a stored version): regular files only. */
function readTree(root: string, at: string): SkillFile[] {
  const out: SkillFile[] = [];
  for (const e of readdirSync(join(root, at), { withFileTypes: true })) {
    const rel = at ? `${at}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...readTree(root, rel));
    else if (e.isFile()) out.push({ path: rel, exec: (lstatSync(join(root, rel)).mode & 0o100) !== 0, data: readFileSync(join(root, rel)) });
  }
  return out;
}

function versionRow(r: any): SkillVersionRow {
  return { name: r.name, hash: r.hash, description: r.description, source: r.source, createdAt: r.created_at };
}

function skillRow(r: any): SkillRow {
  return { name: r.name, hash: r.hash, enabled: r.enabled === 1, updatedBy: r.updated_by, updatedAt: r.updated_at };
}

function proposalRow(r: any): ProposalRow {
  return {
    id: r.id, name: r.name, hash: r.hash, baseHash: r.base_hash, conversationId: r.conversation_id, proposedBy: r.proposed_by,
    state: r.state, decidedBy: r.decided_by, createdAt: r.created_at, decidedAt: r.decided_at,
  };
}
