import { describeChange } from './skill-diff.ts';
import { SKILL_MD } from './skill-format.ts';
import { shortHash } from './skill-hash.ts';
import type { ProposalRow, SkillStore } from './skill-store.ts';
import type { OpResult } from '../core/ops.ts';

/**
 * The read-only answers about skills (list, show, proposals, history), for
 * the chat command, the CLI and the API through SkillOps; nothing here
 * changes the store or the live folder.
 *
 *   new SkillViews(store).history('web-research').text;
 */
export class SkillViews {
  constructor(private readonly store: SkillStore) {}

  /** Every skill with its version in use, whether it is on, and the proposals waiting for it. */
  list(): OpResult {
    const pending = this.store.proposals('pending');
    const skills = this.store.skills().map((s) => ({
      name: s.name, hash: s.hash, short: shortHash(s.hash), enabled: s.enabled,
      description: this.store.version(s.name, s.hash)?.description ?? '',
      pending: pending.filter((p) => p.name === s.name).map((p) => p.id),
    }));
    const fresh = pending.filter((p) => !skills.some((s) => s.name === p.name));
    const lines = skills.map((s) => `${s.name}  ${s.short}  ${s.enabled ? 'on ' : 'off'}  ${oneLine(s.description, 100)}${s.pending.length ? `  (pending: ${s.pending.map((n) => `#${n}`).join(', ')})` : ''}`);
    for (const p of fresh) lines.push(`${p.name}  (new, pending: #${p.id})`);
    return { ok: true, text: lines.length ? lines.join('\n') : 'No skills yet. The agent can draft one and propose it; nanoclaw skills install <folder> adds one from this host.', data: { skills, proposals: pending.map(proposalData) } };
  }

  /** A version's SKILL.md and file list: the one in use, or the version whose hash starts with `hash`. */
  show(name: string, hash?: string): OpResult {
    const found = this.resolveVersion(name, hash);
    if (!found.ok) return found.result;
    const v = found.version;
    const files = this.store.readVersion(name, v.hash);
    const active = this.store.skill(name);
    const state = active?.hash === v.hash ? (active.enabled ? 'in use' : 'in use, disabled') : 'not in use';
    const md = files.find((f) => f.path === SKILL_MD)?.data.toString('utf8') ?? '';
    const list = files.map((f) => `  ${f.path}  ${f.data.length} bytes${f.exec ? '  executable' : ''}`);
    return {
      ok: true,
      text: [`${name} ${shortHash(v.hash)} (${state}; from ${v.source}, ${date(v.createdAt)})`, 'Files:', ...list, '', md.trimEnd()].join('\n'),
      data: { name, hash: v.hash, description: v.description, source: v.source, state, files: files.map((f) => ({ path: f.path, exec: f.exec, bytes: f.data.length })), skillMd: md },
    };
  }

  /** The pending (and recently decided) proposals. */
  proposals(): OpResult {
    const all = this.store.proposals('pending');
    if (!all.length) return { ok: true, text: 'No skill proposals are waiting.', data: { proposals: [] } };
    return {
      ok: true,
      text: all.map((p) => `#${p.id}  ${p.name}  ${shortHash(p.hash)}  ${p.baseHash ? `replaces ${shortHash(p.baseHash)}` : 'new'}  from ${p.proposedBy}, ${date(p.createdAt)}`).join('\n'),
      data: { proposals: all.map(proposalData) },
    };
  }

  /** One proposal whole: every changed file's diff against the version it would replace. */
  showProposal(id: number): OpResult {
    const p = this.store.proposal(id);
    if (!p) return { ok: false, text: `No skill proposal #${id}; /skills proposals lists the pending ones.` };
    const next = this.store.readVersion(p.name, p.hash);
    const base = p.baseHash ? this.store.readVersion(p.name, p.baseHash) : undefined;
    const v = this.store.version(p.name, p.hash);
    const change = describeChange(base, next);
    const head = `Proposal #${id}: ${p.name} ${shortHash(p.hash)} (${p.state}${p.decidedBy ? ` by ${p.decidedBy}` : ''}), ${p.baseHash ? `replacing ${shortHash(p.baseHash)}` : 'a new skill'}, from ${p.proposedBy} ${date(p.createdAt)}`;
    const tail = p.state === 'pending' ? `\nApprove with /skills approve ${id}, reject with /skills reject ${id}.` : '';
    return { ok: true, text: `${head}\n${v?.description ?? ''}\n\n${change}${tail}`, data: { ...proposalData(p), description: v?.description, change } };
  }

  /** Every version kept of `name` (with date and source) and every change made to it. */
  history(name: string): OpResult {
    const versions = this.store.versionsOf(name);
    if (!versions.length) return unknown(name);
    const events = this.store.history(name);
    const active = this.store.skill(name);
    return {
      ok: true,
      text: [
        `Versions of ${name}:`,
        ...versions.map((v) => `  ${shortHash(v.hash)}  ${date(v.createdAt)}  from ${v.source}${active?.hash === v.hash ? `  (in use${active.enabled ? '' : ', disabled'})` : ''}`),
        'Changes:',
        ...events.map((e) => `  ${date(e.at)}  ${e.action}${e.hash ? ` ${shortHash(e.hash)}` : ''}  by ${e.actor}`),
      ].join('\n'),
      data: { name, active: active && { hash: active.hash, enabled: active.enabled }, versions, history: events },
    };
  }

  /** The version the owner means: the one in use, or the only one whose hash starts with `hash`; else the answer saying why not. */
  resolveVersion(name: string, hash?: string): { ok: true; version: NonNullable<ReturnType<SkillStore['version']>> } | { ok: false; result: OpResult } {
    if (!hash) {
      const s = this.store.skill(name);
      const v = s && this.store.version(name, s.hash);
      return v ? { ok: true, version: v } : { ok: false, result: unknown(name) };
    }
    if (!/^[0-9a-f]{4,64}$/.test(hash)) return { ok: false, result: { ok: false, text: `"${hash}" is not a version: give at least 4 hex digits of its hash (/skills history ${name} lists them).` } };
    const found = this.store.versionsByPrefix(name, hash);
    if (found.length === 1) return { ok: true, version: found[0] };
    if (!found.length) return { ok: false, result: { ok: false, text: `${name} has no version ${hash}; /skills history ${name} lists them.` } };
    return { ok: false, result: { ok: false, text: `${hash} matches ${found.length} versions of ${name}; give more digits.` } };
  }
}

function proposalData(p: ProposalRow) {
  return { id: p.id, name: p.name, hash: p.hash, baseHash: p.baseHash, state: p.state, proposedBy: p.proposedBy, conversationId: p.conversationId, createdAt: p.createdAt, decidedBy: p.decidedBy, decidedAt: p.decidedAt };
}

export function unknown(name: string): OpResult {
  return { ok: false, text: `No skill named "${name.slice(0, 64)}"; /skills lists them.` };
}

function oneLine(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}
