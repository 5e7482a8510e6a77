import { extname } from 'node:path';

/** What a transcription gives back: the text, and the audio's length when the service says it. */
export interface Transcript {
  text: string;
  /** Seconds of audio, as the service measured them (`duration`, or `usage.seconds`); absent when it gives none. */
  seconds?: number;
}

/**
 * Turns one audio file into text. The turn runner knows transcription only
 * through this, so a test or another provider can stand in.
 *
 *   const { text } = await transcriber.transcribe({ name: 'voice-7.ogg', data }, signal);
 */
export interface Transcriber {
  readonly model: string;
  transcribe(audio: { name: string; data: Buffer }, signal?: AbortSignal): Promise<Transcript>;
}

/** A transcription that did not work; the message is safe to show the agent (a status, never the key or the service's own words). */
export class TranscriptionError extends Error {
  override name = 'TranscriptionError';
}

/** The most of a service's answer that is read: a transcript is a few kilobytes; anything far bigger is not one. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
/**
 * The longest transcript handed on (about 20 minutes of speech): twenty voice
 * notes of this length still fit the protocol's message text (512 Ki).
 */
export const MAX_TRANSCRIPT_CHARS = 20_000;

/**
 * An OpenAI-compatible `POST <baseUrl>/audio/transcriptions` (OpenAI, Groq,
 * whisper servers): the file as multipart form data with the model's name,
 * the key as a bearer token. The answer is read up to 1 MiB and cut at the
 * timeout; redirects are refused, so the key is only ever sent to `baseUrl`.
 *
 *   const t = new OpenAiTranscriber({ baseUrl: 'https://api.openai.com/v1', model: 'whisper-1', apiKey, timeoutMs: 60_000 });
 *   const { text } = await t.transcribe({ name: 'voice.ogg', data });
 */
export class OpenAiTranscriber implements Transcriber {
  readonly model: string;
  private readonly url: string;

  constructor(private readonly opts: { baseUrl: string; model: string; apiKey?: string; timeoutMs: number }) {
    this.model = opts.model;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/audio/transcriptions`;
  }

  async transcribe(audio: { name: string; data: Buffer }, signal?: AbortSignal): Promise<Transcript> {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(audio.data)], { type: mimeType(audio.name) }), audio.name);
    form.append('model', this.opts.model);
    form.append('response_format', 'json');
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST', body: form, redirect: 'error',
        headers: this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {},
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (timeout.aborted) throw new TranscriptionError(`the transcription service did not answer within ${Math.round(this.opts.timeoutMs / 1000)} s`, { cause: err });
      throw new TranscriptionError(`the transcription service could not be reached (${causeCode(err)})`, { cause: err });
    }
    let body: Buffer;
    try {
      body = await readBounded(res);
    } catch (err) {
      if (timeout.aborted) throw new TranscriptionError(`the transcription service did not finish its answer within ${Math.round(this.opts.timeoutMs / 1000)} s`, { cause: err });
      throw err instanceof TranscriptionError ? err : new TranscriptionError(`the transcription service's answer broke off (${causeCode(err)})`, { cause: err });
    }
    if (!res.ok) throw new TranscriptionError(`the transcription service answered ${res.status}${res.status === 401 || res.status === 403 ? ' (check the API key)' : ''}`);
    let parsed: any;
    try { parsed = JSON.parse(body.toString('utf8')); } catch {
      throw new TranscriptionError('the transcription service answered something that is not JSON');
    }
    if (typeof parsed?.text !== 'string') throw new TranscriptionError('the transcription service answered without a text');
    const seconds = [parsed.duration, parsed.usage?.seconds].find((s) => typeof s === 'number' && Number.isFinite(s) && s >= 0);
    const text = parsed.text.trim();
    const cut = text.length > MAX_TRANSCRIPT_CHARS ? `${text.slice(0, MAX_TRANSCRIPT_CHARS)} (transcript cut at ${MAX_TRANSCRIPT_CHARS} characters)` : text;
    return { text: cut, ...(seconds !== undefined ? { seconds } : {}) };
  }
}

async function readBounded(res: Response): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) {
      await res.body.cancel().catch(() => {});
      throw new TranscriptionError(`the transcription service's answer is over ${MAX_RESPONSE_BYTES} bytes; it was not read`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The network error's code (ECONNREFUSED...), not its text, which may name internal addresses. */
function causeCode(err: unknown): string {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? (err as Error)?.name ?? 'error';
}

/** Services tell formats apart by the file name's extension; the type is a courtesy. */
function mimeType(name: string): string {
  switch (extname(name).toLowerCase()) {
    case '.ogg': case '.oga': case '.opus': return 'audio/ogg';
    case '.mp3': return 'audio/mpeg';
    case '.m4a': case '.mp4': return 'audio/mp4';
    case '.wav': return 'audio/wav';
    case '.webm': return 'audio/webm';
    case '.flac': return 'audio/flac';
    default: return 'application/octet-stream';
  }
}
