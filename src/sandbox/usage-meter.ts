import type { MeteredUsage } from './pricing.ts';

/**
 * Reads token usage from a model answer as it streams past the credential
 * proxy, in either wire format, streamed (SSE) or whole (one JSON body):
 *
 * - Anthropic Messages: `message_start` carries the model and the input side,
 *   `message_delta` the output side and, in newer API versions, the input
 *   side again, cumulative; a whole `Message` carries `usage`.
 * - OpenAI-compatible Chat Completions: `usage` on the whole body, or on the
 *   last chunk of a stream (`choices: []`, asked for with
 *   `stream_options.include_usage`), or Groq's `x_groq.usage`.
 *   `prompt_tokens` includes the cached part
 *   (`prompt_tokens_details.cached_tokens`), so fresh input is the
 *   difference and the cached part counts as cache reads.
 *
 * Each field keeps the largest value seen, since the APIs repeat running
 * totals rather than increments. An `error` event or object inside an answer
 * (a 200 stream that fails midway, as Anthropic and OpenRouter report it) is
 * kept as `streamError` for the audit log.
 *
 * The proxy asks upstream for an uncompressed body and decodes one that is
 * compressed anyway before it gets here; `problem()` says why an answer that
 * should have carried usage did not, so the caller can audit it instead of
 * recording nothing in silence.
 *
 *   const meter = new UsageMeter(res.headers['content-type'], 'openai');
 *   body.on('data', (b) => meter.push(b));  // ... then meter.total(), meter.streamError
 */
export class UsageMeter {
  /** The first error reported inside the answer, as `<type or code>: <message>`, clipped. */
  streamError?: string;
  private usage: MeteredUsage = { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0 };
  private seen = false;
  private unparsed = 0;
  private overflow = false;
  private buffer = '';
  /** The `data:` lines of the SSE event being read, joined as the SSE spec joins them. */
  private eventData: string[] = [];
  private eventSize = 0;
  private readonly sse: boolean;

  /** `onText`: each piece of answer text as the stream brings it (live views); only for streamed answers. */
  constructor(contentType: string | undefined, private readonly format: 'anthropic' | 'openai' = 'anthropic', private readonly onText?: (text: string) => void) {
    this.sse = String(contentType ?? '').includes('text/event-stream');
  }

  push(chunk: Buffer): void {
    if (this.overflow) return;
    this.buffer += chunk.toString('utf8');
    if (!this.sse) {
      if (this.buffer.length > MAX_WHOLE_BODY) this.giveUp();
      return;
    }
    // SSE lines end in \n, \r\n or \r; a lone \r at the end may still be the first half of \r\n.
    const eol = /\r\n|\n|\r(?=[^\n])/g;
    let start = 0;
    let m: RegExpExecArray | null;
    while ((m = eol.exec(this.buffer))) {
      this.line(this.buffer.slice(start, m.index));
      if (this.overflow) return;
      start = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
    // An SSE line is one small event; one this long is not a model API.
    if (this.buffer.length > MAX_SSE_LINE) this.giveUp();
  }

  total(): MeteredUsage {
    if (this.sse) {
      // A stream cut after an event's data but before its blank line: that event is still read.
      if (this.buffer) this.line(this.buffer.replace(/\r$/, ''));
      this.line('');
    } else if (this.buffer) this.read(this.buffer);
    this.buffer = '';
    return { ...this.usage };
  }

  /** Why no usage was found, or undefined when it was. Call after total(). */
  problem(): string | undefined {
    if (this.seen) return undefined;
    if (this.overflow) return this.sse ? 'an event line too long to be a model API' : 'a body too large to read for usage';
    if (this.unparsed) return `${this.unparsed} part(s) of the body were not JSON`;
    return 'the answer carried no usage field';
  }

  private giveUp(): void {
    this.overflow = true;
    this.buffer = '';
    this.eventData = [];
    this.eventSize = 0;
  }

  /** One SSE line: a blank line ends an event; comments (`: OPENROUTER PROCESSING`) and other fields are skipped. */
  private line(line: string): void {
    if (line === '') {
      const data = this.eventData.join('\n');
      this.eventData = [];
      this.eventSize = 0;
      if (data && data !== '[DONE]') this.read(data);
      return;
    }
    if (!line.startsWith('data:')) return;
    this.eventData.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    this.eventSize += line.length;
    if (this.eventSize > MAX_SSE_LINE) this.giveUp();
  }

  private read(json: string): void {
    let ev: any;
    try {
      ev = JSON.parse(json);
    } catch {
      this.unparsed++;
      return;
    }
    if (!ev || typeof ev !== 'object') return;
    this.noteError(ev.error);
    const model = ev.message?.model ?? ev.model;
    if (typeof model === 'string' && model.length <= 200) this.usage.model = model;
    if (this.format === 'anthropic') this.readAnthropic(ev.message?.usage ?? ev.usage);
    else {
      this.readOpenAI(ev.usage);
      this.readOpenAI(ev.x_groq?.usage);
    }
    if (this.sse && this.onText) {
      const text = this.format === 'anthropic'
        ? (ev.type === 'content_block_delta' && ev.delta?.type === 'text_delta' ? ev.delta.text : undefined)
        : ev.choices?.[0]?.delta?.content;
      if (typeof text === 'string' && text) this.onText(text);
    }
  }

  private readAnthropic(usage: any): void {
    if (!usage || typeof usage !== 'object') return;
    this.seen = true;
    this.take('inputTokens', usage.input_tokens);
    this.take('outputTokens', usage.output_tokens);
    this.take('cacheWriteTokens', usage.cache_creation_input_tokens);
    this.take('cacheReadTokens', usage.cache_read_input_tokens);
  }

  private readOpenAI(usage: any): void {
    if (!usage || typeof usage !== 'object') return;
    this.seen = true;
    const prompt = count(usage.prompt_tokens);
    const cached = Math.min(count(usage.prompt_tokens_details?.cached_tokens), prompt);
    this.take('inputTokens', prompt - cached);
    this.take('cacheReadTokens', cached);
    this.take('outputTokens', usage.completion_tokens);
  }

  private take(field: keyof Omit<MeteredUsage, 'model' | 'provider'>, value: unknown): void {
    const n = count(value);
    if (n > 0) this.usage[field] = Math.max(this.usage[field], n);
  }

  private noteError(error: unknown): void {
    if (this.streamError !== undefined || !error || typeof error !== 'object') return;
    const e = error as Record<string, unknown>;
    const kind = [e.type, e.code].find((v) => (typeof v === 'string' && v) || typeof v === 'number');
    const message = typeof e.message === 'string' ? e.message : JSON.stringify(error);
    this.streamError = `${kind !== undefined ? `${String(kind)}: ` : ''}${message}`.slice(0, MAX_ERROR_TEXT);
  }
}

/** A token count as the APIs send it: a finite number, floored; anything else is 0. */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** A whole body is read at its end; past this size it is forwarded unread (and the gap reported). */
const MAX_WHOLE_BODY = 16 * 1024 * 1024;
const MAX_SSE_LINE = 4 * 1024 * 1024;
const MAX_ERROR_TEXT = 300;
