import type { MeteredUsage } from './pricing.ts';

/**
 * Reads token usage from a Messages API answer as it streams past the
 * credential proxy: an SSE stream (`message_start` carries the model and the
 * input side, `message_delta` the output side and, in newer API versions, the
 * input side again, cumulative) or a whole `Message` body. Each field keeps
 * the largest value seen, since the API repeats running totals rather than
 * increments.
 *
 * The proxy asks upstream for an uncompressed body and decodes one that is
 * compressed anyway before it gets here; `problem()` says why an answer that
 * should have carried usage did not, so the caller can audit it instead of
 * recording nothing in silence.
 *
 *   const meter = new UsageMeter(res.headers['content-type']);
 *   body.on('data', (b) => meter.push(b));  // ... then meter.total()
 */
export class UsageMeter {
  private usage: MeteredUsage = { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0 };
  private seen = false;
  private unparsed = 0;
  private overflow = false;
  private buffer = '';
  private readonly sse: boolean;

  constructor(contentType: string | undefined) {
    this.sse = String(contentType ?? '').includes('text/event-stream');
  }

  push(chunk: Buffer): void {
    if (this.overflow) return;
    this.buffer += chunk.toString('utf8');
    if (!this.sse) {
      if (this.buffer.length > MAX_WHOLE_BODY) this.giveUp();
      return;
    }
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line.startsWith('data:')) this.read(line.slice(5));
    }
    // An SSE line is one small event; one this long is not the Messages API.
    if (this.buffer.length > MAX_SSE_LINE) this.giveUp();
  }

  total(): MeteredUsage {
    if (!this.sse && this.buffer) this.read(this.buffer);
    this.buffer = '';
    return { ...this.usage };
  }

  /** Why no usage was found, or undefined when it was. Call after total(). */
  problem(): string | undefined {
    if (this.seen) return undefined;
    if (this.overflow) return this.sse ? 'an event line too long to be the Messages API' : 'a body too large to read for usage';
    if (this.unparsed) return `${this.unparsed} part(s) of the body were not JSON`;
    return 'the answer carried no usage field';
  }

  private giveUp(): void {
    this.overflow = true;
    this.buffer = '';
  }

  private read(json: string): void {
    let ev: any;
    try {
      ev = JSON.parse(json);
    } catch {
      this.unparsed++;
      return;
    }
    const model = ev?.message?.model ?? ev?.model;
    if (typeof model === 'string' && model.length <= 200) this.usage.model = model;
    const usage = ev?.message?.usage ?? ev?.usage;
    if (!usage || typeof usage !== 'object') return;
    this.seen = true;
    const take = (field: keyof Omit<MeteredUsage, 'model'>, value: unknown) => {
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) this.usage[field] = Math.max(this.usage[field], Math.floor(value));
    };
    take('inputTokens', usage.input_tokens);
    take('outputTokens', usage.output_tokens);
    take('cacheWriteTokens', usage.cache_creation_input_tokens);
    take('cacheReadTokens', usage.cache_read_input_tokens);
  }
}

/** A whole Message body is read at its end; past this size it is forwarded unread (and the gap reported). */
const MAX_WHOLE_BODY = 16 * 1024 * 1024;
const MAX_SSE_LINE = 4 * 1024 * 1024;
