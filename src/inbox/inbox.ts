import { basename, join } from 'node:path';
import { CONTAINER_PATHS } from '../protocol/messages.ts';
import { AGENT_UID } from '../sandbox/profile.ts';
import { writeAttachment } from './attachments.ts';
import { closeDir, makeDir, openDir } from './safe-fs.ts';

/**
 * Writes a message's attachments into the conversation's inbox
 * (/workspace/inbox) under sanitised names, and returns where each saved file
 * is in the container (the protocol's `message.attachments`) and a note for
 * the files that could not be saved or are gone ('' when all were saved).
 * Nothing the sender chose can pick the path: see attachments.ts.
 *
 * The inbox is made when the container is launched; the agent owns it from
 * then on and may have deleted it or put a symlink in its place. A missing
 * inbox is made again under the open workspace folder (never through a
 * link); anything else that is not a real folder is left alone, and each
 * attachment is refused with a note that tells the agent how to fix it, and
 * audited as `attachment.refused`. Nothing here follows a link or changes
 * the owner of an existing path.
 *
 * Each file comes as bytes (`data`, rows stored before the file store), as a
 * file of the host's attachment store (`source`, copied without a
 * whole-file buffer), or as `removed` (why it is gone: the agent is told).
 *
 *   const { saved, notes } = writeInbox(inboxFiles(store.attachmentsOf(msg.id), layout.attachments), dirs.workspace, { maxBytes, audit });
 */
export function writeInbox(
  files: Array<{ name: string; data?: Buffer; source?: string; size?: number; removed?: string }>,
  workspace: string,
  opts: { maxBytes: number; audit?: (type: string, data: Record<string, unknown>) => void },
): { saved: Array<{ path: string; bytes: number }>; notes: string } {
  const saved: Array<{ path: string; bytes: number }> = [];
  if (!files.length) return { saved, notes: '' };
  const inbox = join(workspace, 'inbox');
  const shown = `${CONTAINER_PATHS.workspace}/inbox`;
  let unusable: string | undefined;
  try {
    const ws = openDir(workspace);
    try { closeDir(makeDir(ws, 'inbox', { owner: AGENT_UID })); } finally { closeDir(ws); }
  } catch (err) {
    const why = (err as Error).message.replaceAll(workspace, CONTAINER_PATHS.workspace);
    unusable = `the inbox is not a real folder: ${why} Nothing was written; remove ${shown}, and the next attachment is saved in a new inbox.`;
  }
  const notes: string[] = [];
  for (const f of files) {
    try {
      if (f.removed) {
        notes.push(`[An attachment, "${f.name.slice(0, 100)}" (${f.size ?? 0} bytes), is no longer available: ${f.removed}.]`);
        continue;
      }
      if (unusable) throw new Error(unusable);
      const content = f.source ? { source: f.source } : (f.data ?? Buffer.alloc(0));
      const path = writeAttachment(inbox, f.name, content, opts.maxBytes, { root: workspace });
      const bytes = f.data?.length ?? f.size ?? 0;
      saved.push({ path: `${shown}/${basename(path)}`, bytes });
      opts.audit?.('attachment.stored', { name: f.name.slice(0, 100), stored: basename(path), bytes });
    } catch (err) {
      notes.push(`[An attachment could not be saved: ${(err as Error).message}]`);
      opts.audit?.('attachment.refused', { name: f.name.slice(0, 100), error: (err as Error).message });
    }
  }
  return { saved, notes: notes.length ? `\n\n${notes.join('\n')}` : '' };
}
