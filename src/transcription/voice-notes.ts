import { readFileSync } from 'node:fs';
import { writeInbox } from '../inbox/inbox.ts';
import { inboxFiles, type StoredAttachment } from '../store/attachments.ts';
import type { Transcriber } from './client.ts';
import type { TranscriptionSettings } from './config.ts';

/** Voice notes are compressed speech (Opus at about 16 kbit/s): the minutes a file holds when the service does not say. */
const ESTIMATED_BYTES_PER_SECOND = 2000;

export interface VoiceNoteDeps {
  /** Absent when no service is configured (`transcription.baseUrl` empty). */
  transcriber?: Transcriber;
  settings: Pick<TranscriptionSettings, 'maxBytes' | 'pricePerMinuteUsd'>;
  /** The host's attachment store, where the stored copies are read from (never the agent's inbox copy). */
  attachmentRoot: string;
  workspace: string;
  inbox: Parameters<typeof writeInbox>[2];
  /** `transcription` records: bytes, milliseconds, seconds of audio and cost; never the text. */
  audit?: (type: string, data: Record<string, unknown>) => void;
  /** Adds the estimated cost to the conversation's usage, so the cost budgets count it. */
  charge?: (costUsd: number) => void;
  log: { warn(msg: string): void };
}

/**
 * A message's voice notes, as the agent gets them: each audio file is put in
 * /workspace/inbox like any attachment, and the gateway asks the
 * transcription service for its text, so the agent reads
 * `[Voice note /workspace/inbox/voice-7.ogg, transcript: ...]`. Runs when the
 * turn starts (a slow service must never hold up `receive`). Without a
 * service, or when the call fails, the note says so and the turn goes on
 * with the audio file alone: transcription never fails a turn.
 *
 *   const voice = await voiceNotes(rows.filter((r) => r.voice), { transcriber, settings, attachmentRoot, workspace, inbox, log });
 *   text = msg.text + voice.text;   // attachments: [...others, ...voice.saved]
 */
export async function voiceNotes(rows: StoredAttachment[], deps: VoiceNoteDeps): Promise<{ saved: Array<{ path: string; bytes: number }>; text: string }> {
  const saved: Array<{ path: string; bytes: number }> = [];
  const lines: string[] = [];
  for (const row of rows) {
    // One at a time, so each note names its own file (writeInbox reports only what it saved).
    const inbox = writeInbox(inboxFiles([row], deps.attachmentRoot), deps.workspace, deps.inbox);
    const file = inbox.saved[0];
    if (!file) {
      lines.push(inbox.notes.trim());
      continue;
    }
    saved.push(file);
    lines.push(await describe(row, file.path, deps));
  }
  return { saved, text: lines.length ? `\n\n${lines.join('\n')}` : '' };
}

async function describe(row: StoredAttachment, path: string, deps: VoiceNoteDeps): Promise<string> {
  const { transcriber, settings } = deps;
  if (!transcriber) return `[Voice note ${path}: transcription is off (no transcription service is configured), so only the audio file is here.]`;
  if (row.size > settings.maxBytes) return `[Voice note ${path}: not transcribed, it is ${row.size} bytes, over transcription.maxBytes (${settings.maxBytes}); the audio file is here.]`;
  const started = Date.now();
  try {
    const data = row.path ? readFileSync(`${deps.attachmentRoot}/${row.path}`) : (row.data ?? Buffer.alloc(0));
    const result = await transcriber.transcribe({ name: row.name, data });
    const seconds = result.seconds ?? data.length / ESTIMATED_BYTES_PER_SECOND;
    const costUsd = (seconds / 60) * settings.pricePerMinuteUsd;
    if (costUsd > 0) deps.charge?.(costUsd);
    deps.audit?.('transcription', {
      ok: true, model: transcriber.model, bytes: data.length, ms: Date.now() - started,
      seconds: Math.round(seconds * 10) / 10, secondsEstimated: result.seconds === undefined, costUsd, chars: result.text.length,
    });
    return result.text
      ? `[Voice note ${path}, transcript: ${result.text}]`
      : `[Voice note ${path}: the transcription is empty (silence, or no speech it could make out); the audio file is here.]`;
  } catch (err) {
    const reason = (err as Error).name === 'TranscriptionError' ? (err as Error).message : `it could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    deps.log.warn(`transcription of attachment ${row.id} failed: ${reason}`);
    deps.audit?.('transcription', { ok: false, model: transcriber.model, bytes: row.size, ms: Date.now() - started, error: reason });
    return `[Voice note ${path}: transcription failed (${reason}); the audio file is here.]`;
  }
}
