/**
 * NanoClaw messages out to Slack: text in mrkdwn split at 4000 characters, question buttons as
 * Block Kit, files through files.uploadV2, and the progress message edited and deleted in place.
 * A conversation is a Slack channel (`chat`) and, for a thread, its parent's ts (`thread`).
 */
import { readFile } from 'node:fs/promises';
import type { WebClient } from '@slack/web-api';
import type { OutboundPayload, SendResult } from '../channel.ts';
import { formatForChannel } from '../format/index.ts';
import type { Conversation } from '../../store/store.ts';
import { questionBlocks } from './blocks.ts';
import { toDeliveryError } from './errors.ts';

/** Slack truncates `text` at 40 000 characters but advises at most 4000 per message. */
export const SLACK_MAX_TEXT = 4000;
/** A section block's text holds at most 3000 characters: a question's text is split to that. */
const SECTION_MAX = 3000;

/**
 * Sends, edits and deletes messages with the bot token's WebClient.
 *
 *   const out = new SlackOutbound(web);
 *   const { platformIds } = await out.send(conversation, { kind: 'reply', text: 'Hi', files: [], buttons: [] });
 */
export class SlackOutbound {
  constructor(private readonly web: WebClient) {}

  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    const where = place(conversation);
    const withButtons = payload.buttons.length > 0 && payload.questionId !== undefined;
    const parts = payload.text.trim() ? formatForChannel(payload.text, 'slack-mrkdwn', { maxLength: withButtons ? SECTION_MAX : SLACK_MAX_TEXT }) : [];
    if (withButtons && parts.length === 0) parts.push('');
    const ids: string[] = [];
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const blocks = withButtons && last ? questionBlocks(part, payload.buttons, payload.questionId!) : undefined;
      try {
        const res = await this.web.chat.postMessage({ ...where, text: part || payload.buttons.map((b) => b.label).join(' / '), ...(blocks ? { blocks } : {}) } as never);
        if (typeof res.ts === 'string') ids.push(res.ts);
      } catch (err) {
        throw toDeliveryError(err, `chat.postMessage to ${conversation.chat}${ids.length ? ` (after ${ids.length} of ${parts.length} parts were sent)` : ''}`);
      }
    }
    for (const file of payload.files) {
      let data: Buffer;
      try { data = await readFile(file.path); } catch (err) {
        throw toDeliveryError(new Error(`cannot read ${file.name} (${(err as Error).message})`), 'files.uploadV2');
      }
      try {
        const res = await this.web.filesUploadV2({ channel_id: where.channel, ...(where.thread_ts ? { thread_ts: where.thread_ts } : {}), file: data, filename: file.name, title: file.name } as never);
        for (const done of (res as { files?: Array<{ files?: Array<{ id?: string }> }> }).files ?? []) {
          for (const f of done.files ?? []) if (f.id) ids.push(f.id);
        }
      } catch (err) {
        throw toDeliveryError(err, `files.uploadV2 of ${file.name} to ${conversation.chat}`);
      }
    }
    return { platformIds: ids };
  }

  /** Replaces a sent message's text (the progress message); Markdown in, mrkdwn out, one message's worth. */
  async edit(conversation: Conversation, ts: string, text: string): Promise<void> {
    const [first = ''] = formatForChannel(text, 'slack-mrkdwn', { maxLength: SLACK_MAX_TEXT });
    try {
      await this.web.chat.update({ channel: conversation.chat, ts, text: first || '…' });
    } catch (err) {
      throw toDeliveryError(err, `chat.update of ${ts} in ${conversation.chat}`);
    }
  }

  async remove(conversation: Conversation, ts: string): Promise<void> {
    try {
      await this.web.chat.delete({ channel: conversation.chat, ts });
    } catch (err) {
      throw toDeliveryError(err, `chat.delete of ${ts} in ${conversation.chat}`);
    }
  }
}

/** Where a conversation's messages go: the channel, and the thread when it is one. */
function place(conversation: Conversation): { channel: string; thread_ts?: string } {
  return conversation.thread ? { channel: conversation.chat, thread_ts: conversation.thread } : { channel: conversation.chat };
}
