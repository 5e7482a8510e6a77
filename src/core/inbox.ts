import { basename, join } from 'node:path';
import { writeAttachment } from '../channels/attachments.ts';
import { CONTAINER_PATHS } from '../protocol/messages.ts';
import { prepareAgentDir } from '../sandbox/agent-container.ts';

/**
 * Writes a message's attachments into the conversation's inbox
 * (/workspace/inbox) under sanitised names, and returns the note appended to
 * the message that tells the agent where they are ('' without attachments).
 * Nothing the sender chose can pick the path: see channels/attachments.ts.
 *
 *   text += writeInbox(store.attachmentsOf(msg.id), dirs.workspace, { maxBytes, audit });
 */
export function writeInbox(
  files: Array<{ name: string; data: Buffer }>,
  workspace: string,
  opts: { maxBytes: number; audit?: (type: string, data: Record<string, unknown>) => void },
): string {
  if (!files.length) return '';
  const inbox = join(workspace, 'inbox');
  prepareAgentDir(inbox);
  const notes: string[] = [];
  for (const f of files) {
    try {
      const path = writeAttachment(inbox, f.name, f.data, opts.maxBytes, { root: workspace });
      notes.push(`[Attached file: ${CONTAINER_PATHS.workspace}/inbox/${basename(path)} (${f.data.length} bytes)]`);
      opts.audit?.('attachment.stored', { name: f.name.slice(0, 100), stored: basename(path), bytes: f.data.length });
    } catch (err) {
      notes.push(`[An attachment could not be saved: ${(err as Error).message}]`);
      opts.audit?.('attachment.refused', { name: f.name.slice(0, 100), error: (err as Error).message });
    }
  }
  return `\n\n${notes.join('\n')}`;
}
