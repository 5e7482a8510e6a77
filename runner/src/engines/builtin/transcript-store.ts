import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Block, TranscriptMessage } from './model.ts';

/** Largest transcript file read back; a bigger one is treated as lost (compaction keeps real ones far smaller). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * A conversation's transcript, kept in the container's state folder (a host
 * folder that outlives the container), so that a conversation resumes in a
 * new container as an SDK session does. One JSON file per session, replaced
 * atomically after every step, so a container killed mid-turn leaves the
 * last complete step.
 *
 * The file is the agent's to overwrite (it runs shell commands as the same
 * user), so it is read as untrusted: without following a link, bounded, and
 * checked block by block; anything else is a lost session.
 *
 *   const store = new TranscriptStore('/home/agent/.claude/builtin');
 *   const id = store.newSession();  store.save(id, messages);  store.load(id); // messages, or undefined
 */
export class TranscriptStore {
  constructor(private readonly dir: string) {}

  newSession(): string {
    return `nb-${randomBytes(12).toString('hex')}`;
  }

  save(sessionId: string, messages: TranscriptMessage[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(sessionId);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, sessionId, messages }), { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  }

  /** The session's messages, or undefined when it is missing, unreadable or not a transcript. */
  load(sessionId: string): TranscriptMessage[] | undefined {
    if (!/^nb-[0-9a-f]{24}$/.test(sessionId)) return undefined;
    let fd: number;
    try {
      fd = openSync(this.file(sessionId), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
      const buf = Buffer.alloc(st.size);
      let read = 0;
      while (read < st.size) {
        const n = readSync(fd, buf, read, st.size - read, read);
        if (n === 0) break;
        read += n;
      }
      const parsed = JSON.parse(buf.subarray(0, read).toString('utf8'));
      return Array.isArray(parsed?.messages) && parsed.messages.every(isMessage) ? parsed.messages : undefined;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  private file(sessionId: string): string {
    return join(this.dir, `${sessionId}.json`);
  }
}

function isMessage(m: any): m is TranscriptMessage {
  return (m?.role === 'user' || m?.role === 'assistant') && Array.isArray(m.blocks) && m.blocks.every(isBlock);
}

function isBlock(b: any): b is Block {
  if (b?.type === 'text') return typeof b.text === 'string';
  if (b?.type === 'tool_call') return typeof b.id === 'string' && typeof b.name === 'string' && !!b.input && typeof b.input === 'object' && !Array.isArray(b.input);
  if (b?.type === 'tool_result') return typeof b.id === 'string' && typeof b.content === 'string';
  return false;
}
