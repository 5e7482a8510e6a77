import type Database from 'better-sqlite3';
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { HomeLayout } from '../config/home.ts';
import type { OpActor, OpResult } from '../core/ops.ts';
import { bounded, describeChange } from './skill-diff.ts';
import { readHostSkillFolder, readSkillFolder, type SkillDraft, type SkillFile } from './skill-folder.ts';
import { shortHash, skillHash } from './skill-hash.ts';
import { syncLive, updateLive, type LiveSkill } from './skill-live.ts';
import { ACTIVATING, SkillStore, type HistoryAction } from './skill-store.ts';
import { SkillViews, unknown } from './skill-views.ts';

/**
 * Every skill operation, one implementation for the chat command (/skills),
 * the CLI (nanoclaw skills), the HTTP API and the agent's propose_skill
 * host tool. Each returns an OpResult: text for a person (or, from propose,
 * for the agent) and data for --json and API clients. Changes are the
 * owner's only; each one is kept in skill_history, sent to the audit log,
 * and laid into the live folder containers mount (skill-live.ts). `where`
 * is the conversation a change was asked from (a chat command), for the
 * audit log; a decision on a proposal names the proposal's otherwise.
 *
 *   const ops = new SkillOps({ db, layout, audit: (e) => log.append(e) });
 *   ops.approve(4, { actor: 'telegram:12345', owner: true }).text;
 */

export interface SkillOpsDeps {
  db: Database.Database;
  layout: HomeLayout;
  audit?: (event: AuditEvent) => void;
  clock?: () => number;
  /** The bundled skills (the repo's skills/ folder); found from this file's place when not given. */
  bundledDir?: string;
}

/** What propose_skill hands over: the draft's place and who it is from. */
export interface ProposeRequest {
  /** Host path of the conversation's workspace (what the container sees as /workspace). */
  workspace: string;
  /** The draft folder as the agent named it: `/workspace/skills/x` or relative to the workspace. */
  path: string;
  note?: string;
  conversationId?: string;
}

/** How much of a draft's diff the chat announcement shows; the CLI's show-proposal shows all. */
export const ANNOUNCE_MAX = 3500;
/** The agent's note on a draft, as the owner is shown it. */
const NOTE_MAX = 1000;

export class SkillOps {
  readonly store: SkillStore;
  /** The read-only answers (list, show, proposals, history): skill-views.ts. */
  private readonly views: SkillViews;
  private readonly layout: HomeLayout;
  private readonly audit?: (event: AuditEvent) => void;
  private readonly bundledDir: string;

  constructor(deps: SkillOpsDeps) {
    this.store = new SkillStore(deps.db, deps.layout, deps.clock ?? Date.now);
    this.views = new SkillViews(this.store);
    this.layout = deps.layout;
    this.audit = deps.audit;
    this.bundledDir = deps.bundledDir ?? bundledSkillsDir();
  }

  /**
   * The agent's proposal (host tool propose_skill): reads the draft as
   * hostile input, keeps it as a version and records a pending proposal,
   * superseding an older pending one for the same skill. `text` is for the
   * agent; `data.announcement` is what the owner is shown in the chat.
   */
  propose(req: ProposeRequest, who: OpActor): OpResult {
    if (!who.owner) return { ok: false, text: 'Only the owner can have skills proposed; this message is not from the owner, so nothing was proposed.' };
    const note = req.note?.trim().slice(0, NOTE_MAX);
    let draft: SkillDraft;
    try {
      draft = readSkillFolder(req.workspace, req.path);
    } catch (err) {
      return { ok: false, text: `The skill was not proposed: ${(err as Error).message}` };
    }
    const hash = skillHash(draft.files);
    const active = this.store.skill(draft.name);
    if (active?.hash === hash) return { ok: false, text: `No change: ${req.path} is identical to the version of ${draft.name} in use (${shortHash(hash)}); edit it before proposing.` };
    this.store.saveVersion(draft, hash, req.conversationId ? `proposal:${req.conversationId}` : `proposal:${who.actor}`);
    const { id, superseded } = this.store.transaction(() => {
      const made = this.store.addProposal({ name: draft.name, hash, baseHash: active?.hash ?? null, conversationId: req.conversationId ?? null, proposedBy: who.actor });
      this.store.addHistory(draft.name, 'proposed', hash, who.actor);
      return made;
    });
    this.record('skill.proposed', who, req.conversationId, { name: draft.name, hash, proposal: id, ...(superseded.length && { superseded }), ...(note && { note }) });

    const base = active ? this.store.readVersion(draft.name, active.hash) : undefined;
    const announcement = [
      `${base ? 'New version of skill' : 'New skill'} "${draft.name}" proposed (draft #${id}, ${shortHash(hash)}${base ? `, replacing ${shortHash(active!.hash)}` : ''}):`,
      draft.manifest.description,
      ...(note ? [`Note: ${note}`] : []),
      ...(superseded.length ? [`(Supersedes draft ${superseded.map((n) => `#${n}`).join(', ')}.)`] : []),
      '',
      bounded(describeChange(base, draft.files), ANNOUNCE_MAX, `nanoclaw skills show-proposal ${id}`),
      '',
      `Approve with /skills approve ${id}, reject with /skills reject ${id}.`,
    ].join('\n');
    return {
      ok: true,
      text: `Proposed as draft #${id} (hash ${shortHash(hash)}). The owner must approve it with /skills approve ${id}; it is not active until then.`,
      data: { id, name: draft.name, hash, announcement },
    };
  }

  /** The owner says yes: the proposal's version becomes the one in use, enabled, and is laid into the live folder. */
  approve(id: number, who: OpActor, where?: string): OpResult {
    if (!who.owner) return ownerOnly('approve skills');
    const p = this.store.proposal(id);
    if (!p) return { ok: false, text: `No skill proposal #${id}; /skills proposals lists the pending ones.` };
    if (p.state !== 'pending') return { ok: false, text: `Proposal #${id} (${p.name}) is ${p.state}, not pending; only a pending proposal can be approved.` };
    const decided = this.store.transaction(() => {
      if (!this.store.decideProposal(id, 'approved', who.actor)) return false;
      this.store.setActive(p.name, p.hash, who.actor);
      this.store.addHistory(p.name, 'approved', p.hash, who.actor);
      return true;
    });
    if (!decided) return { ok: false, text: `Proposal #${id} was decided meanwhile; /skills proposals shows what is pending.` };
    this.relive(p.name);
    this.record('skill.approved', who, where ?? p.conversationId ?? undefined, { name: p.name, hash: p.hash, proposal: id });
    return { ok: true, text: `Skill ${p.name} ${shortHash(p.hash)} is approved and active from the next turn.`, data: { id, name: p.name, hash: p.hash } };
  }

  /** The owner says no: the draft stays kept (history), never in the live folder. */
  reject(id: number, who: OpActor, where?: string): OpResult {
    if (!who.owner) return ownerOnly('reject skills');
    const p = this.store.proposal(id);
    if (!p) return { ok: false, text: `No skill proposal #${id}; /skills proposals lists the pending ones.` };
    if (p.state !== 'pending') return { ok: false, text: `Proposal #${id} (${p.name}) is ${p.state}, not pending; only a pending proposal can be rejected.` };
    const decided = this.store.transaction(() => {
      if (!this.store.decideProposal(id, 'rejected', who.actor)) return false;
      this.store.addHistory(p.name, 'rejected', p.hash, who.actor);
      return true;
    });
    if (!decided) return { ok: false, text: `Proposal #${id} was decided meanwhile; /skills proposals shows what is pending.` };
    this.record('skill.rejected', who, where ?? p.conversationId ?? undefined, { name: p.name, hash: p.hash, proposal: id });
    return { ok: true, text: `Proposal #${id} (${p.name} ${shortHash(p.hash)}) is rejected; it will not be used.`, data: { id, name: p.name, hash: p.hash } };
  }

  list(): OpResult { return this.views.list(); }
  show(name: string, hash?: string): OpResult { return this.views.show(name, hash); }
  proposals(): OpResult { return this.views.proposals(); }
  showProposal(id: number): OpResult { return this.views.showProposal(id); }
  history(name: string): OpResult { return this.views.history(name); }

  enable(name: string, who: OpActor, where?: string): OpResult {
    return this.setEnabled(name, true, who, where);
  }

  disable(name: string, who: OpActor, where?: string): OpResult {
    return this.setEnabled(name, false, who, where);
  }

  /**
   * Puts back an earlier version: by default the one in use before the
   * current one, else the version whose hash starts with `hash`. Only a
   * version that was once in use (approved, installed) can come back: a
   * draft never approved goes through /skills approve.
   */
  rollback(name: string, hash: string | undefined, who: OpActor, where?: string): OpResult {
    if (!who.owner) return ownerOnly('roll skills back');
    const active = this.store.skill(name);
    if (!active) return unknown(name);
    const used = this.store.history(name).filter((e) => ACTIVATING.includes(e.action) && e.hash).map((e) => e.hash!);
    let target: string;
    if (hash) {
      const found = this.views.resolveVersion(name, hash);
      if (!found.ok) return found.result;
      target = found.version.hash;
      if (!used.includes(target)) return { ok: false, text: `Version ${shortHash(target)} of ${name} was never approved; approve its proposal instead (/skills proposals).` };
    } else {
      const earlier = [...used].reverse().find((h) => h !== active.hash);
      if (!earlier) return { ok: false, text: `${name} has no earlier version to go back to; /skills history ${name} lists its versions.` };
      target = earlier;
    }
    if (target === active.hash && active.enabled) return { ok: false, text: `${name} ${shortHash(target)} is already the version in use.` };
    this.store.transaction(() => {
      this.store.setActive(name, target, who.actor);
      this.store.addHistory(name, 'rolled_back', target, who.actor);
    });
    this.relive(name);
    this.record('skill.rolled_back', who, where, { name, hash: target, from: active.hash });
    return { ok: true, text: `${name} is back to ${shortHash(target)} (was ${shortHash(active.hash)}), active from the next turn.`, data: { name, hash: target, from: active.hash } };
  }

  /** A skill from a folder on this host (the owner's own): read with the draft rules, approved at once. */
  install(folder: string, who: OpActor): OpResult {
    if (!who.owner) return ownerOnly('install skills');
    const path = resolve(folder);
    let draft: SkillDraft;
    try {
      draft = readHostSkillFolder(path);
    } catch (err) {
      return { ok: false, text: `Not installed: ${(err as Error).message}` };
    }
    const hash = skillHash(draft.files);
    const active = this.store.skill(draft.name);
    if (active?.hash === hash && active.enabled) return { ok: false, text: `No change: ${draft.name} ${shortHash(hash)} is already installed and on.` };
    this.activate(draft, hash, `install:${path}`, who);
    return { ok: true, text: `Installed ${draft.name} ${shortHash(hash)}${active ? ` (was ${shortHash(active.hash)})` : ''}; active from the next turn.`, data: { name: draft.name, hash } };
  }

  /**
   * At gateway start: installs each bundled skill whose name is not known
   * yet. A name with any version kept is left alone, so an owner's own
   * version, a rollback or a disable is never undone by an upgrade.
   */
  installBundled(): OpResult {
    const who = { actor: 'bundled', owner: true };
    const installed: string[] = [];
    const problems: string[] = [];
    if (!existsSync(this.bundledDir)) return { ok: true, text: 'No bundled skills found.', data: { installed, problems } };
    for (const name of readdirSync(this.bundledDir).sort()) {
      if (name.startsWith('.') || !lstatSync(join(this.bundledDir, name)).isDirectory() || this.store.known(name)) continue;
      try {
        const draft = readHostSkillFolder(join(this.bundledDir, name));
        this.activate(draft, skillHash(draft.files), 'bundled', who);
        installed.push(name);
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
      }
    }
    const text = [installed.length ? `Installed bundled skills: ${installed.join(', ')}.` : 'No new bundled skills.', ...problems].join('\n');
    return { ok: !problems.length, text, data: { installed, problems } };
  }

  /** Makes the live folder match the store (gateway start: repairs a crash mid-way through a change). */
  sync(): OpResult {
    const problems: string[] = [];
    const enabled = this.enabledSkills().filter((s) => {
      if (existsSync(this.store.versionDir(s.name, s.hash))) return true;
      problems.push(`${s.name}: the files of ${shortHash(s.hash)} are missing from ${this.store.versionDir(s.name, s.hash)}; it is left out. Install it again or roll it back.`);
      return false;
    });
    syncLive(this.layout.skillsLive, enabled, (s) => this.store.readVersion(s.name, s.hash));
    return { ok: !problems.length, text: problems.length ? problems.join('\n') : `${enabled.length} skills live.`, data: { live: enabled.map((s) => s.name), problems } };
  }

  /**
   * One operation by name with unchecked arguments (HTTP API, CLI through
   * the gateway): arguments are checked here, errors come back as text.
   *
   *   ops.dispatch('rollback', { name: 'web-research' }, { actor: 'cli', owner: true });
   */
  dispatch(op: string, args: unknown, who: OpActor): OpResult {
    const schema = DISPATCH[op as keyof typeof DISPATCH];
    if (!schema) return { ok: false, text: `Unknown skills operation "${op}"; one of ${Object.keys(DISPATCH).join(', ')}.` };
    const parsed = schema.safeParse(args ?? {});
    if (!parsed.success) return { ok: false, text: `Wrong arguments for skills ${op}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('; ')}` };
    const a = parsed.data as any;
    switch (op as keyof typeof DISPATCH) {
      case 'list': return this.list();
      case 'show': return this.show(a.name, a.version);
      case 'proposals': return this.proposals();
      case 'show-proposal': return this.showProposal(a.id);
      case 'approve': return this.approve(a.id, who);
      case 'reject': return this.reject(a.id, who);
      case 'enable': return this.enable(a.name, who);
      case 'disable': return this.disable(a.name, who);
      case 'install': return this.install(a.folder, who);
      case 'rollback': return this.rollback(a.name, a.hash, who);
      case 'history': return this.history(a.name);
    }
  }

  private setEnabled(name: string, enabled: boolean, who: OpActor, where?: string): OpResult {
    if (!who.owner) return ownerOnly(`${enabled ? 'enable' : 'disable'} skills`);
    const s = this.store.skill(name);
    if (!s) return unknown(name);
    if (s.enabled === enabled) return { ok: true, text: `${name} is already ${enabled ? 'on' : 'off'}.`, data: { name, enabled } };
    const action: HistoryAction = enabled ? 'enabled' : 'disabled';
    this.store.transaction(() => {
      this.store.setEnabled(name, enabled, who.actor);
      this.store.addHistory(name, action, s.hash, who.actor);
    });
    this.relive(name);
    this.record(`skill.${action}`, who, where, { name, hash: s.hash });
    return { ok: true, text: `${name} is ${enabled ? 'on' : 'off'} from the next turn.`, data: { name, enabled } };
  }

  private activate(draft: SkillDraft, hash: string, source: string, who: OpActor): void {
    this.store.saveVersion(draft, hash, source);
    this.store.transaction(() => {
      this.store.setActive(draft.name, hash, who.actor);
      this.store.addHistory(draft.name, 'installed', hash, who.actor);
    });
    this.relive(draft.name);
    this.record('skill.installed', who, undefined, { name: draft.name, hash, source });
  }

  private relive(name: string): void {
    updateLive(this.layout.skillsLive, name, this.enabledSkills(), (s) => this.store.readVersion(s.name, s.hash));
  }

  private enabledSkills(): LiveSkill[] {
    return this.store.skills().filter((s) => s.enabled).map((s) => ({ name: s.name, hash: s.hash, description: this.store.version(s.name, s.hash)?.description ?? '' }));
  }

  private record(type: string, who: OpActor, conversation: string | undefined, data: Record<string, unknown>): void {
    this.audit?.({ type, actor: who.actor, ...(conversation && { conversation }), data });
  }
}

const name = z.string().min(1).max(64);
const id = z.coerce.number({ error: 'expected the number of a draft, as `proposals` lists them (e.g. 4)' }).int().min(1);
const DISPATCH = {
  list: z.strictObject({}),
  show: z.strictObject({ name, version: z.string().min(1).max(64).optional() }),
  proposals: z.strictObject({}),
  'show-proposal': z.strictObject({ id }),
  approve: z.strictObject({ id }),
  reject: z.strictObject({ id }),
  enable: z.strictObject({ name }),
  disable: z.strictObject({ name }),
  install: z.strictObject({ folder: z.string().min(1).max(4096) }),
  rollback: z.strictObject({ name, hash: z.string().min(1).max(64).optional() }),
  history: z.strictObject({ name }),
} as const;

/** The operations dispatch knows, for help texts. */
export const SKILL_OPS = Object.keys(DISPATCH);

/** The repo's `skills/` folder: found by walking up from this file to the package root. */
export function bundledSkillsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'skills');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'skills');
}

function ownerOnly(what: string): OpResult {
  return { ok: false, text: `Only the owner can ${what}.` };
}

export type { SkillFile };
