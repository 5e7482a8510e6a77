/**
 * Bounded capture of a stream of text: the first half of the allowance and
 * the last half are kept, the middle is counted and dropped. A command's
 * beginning (what it did) and end (how it failed) are what a reader needs,
 * and memory stays bounded however much a child prints.
 *
 *   const clip = new OutputClip(30_000);
 *   child.stdout.on('data', (s) => clip.push(s)); ... clip.text()
 */
export class OutputClip {
  private head = '';
  private tail = '';
  private dropped = 0;
  private readonly headMax: number;
  private readonly tailMax: number;

  constructor(readonly maxChars: number) {
    this.headMax = Math.ceil(maxChars / 2);
    this.tailMax = maxChars - this.headMax;
  }

  push(chunk: string): void {
    if (this.head.length < this.headMax) {
      const room = this.headMax - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
      if (chunk === '') return;
    }
    this.tail += chunk;
    // Trim only once the tail is twice its allowance, so trimming stays linear in the input.
    if (this.tail.length > 2 * this.tailMax) this.trimTail();
  }

  /** Characters dropped from the middle so far. */
  get cut(): number {
    return this.dropped + Math.max(0, this.tail.length - this.tailMax);
  }

  /** The kept text, with a note where the middle was cut. */
  text(): string {
    this.trimTail();
    if (this.dropped === 0) return this.head + this.tail;
    return `${this.head}\n\n[... ${this.dropped} characters cut from the middle of the output ...]\n\n${this.tail}`;
  }

  private trimTail(): void {
    const over = this.tail.length - this.tailMax;
    if (over <= 0) return;
    this.tail = this.tail.slice(over);
    this.dropped += over;
  }
}

/** A finished text clipped the same way: head and tail kept, the middle noted. */
export function clipText(text: string, maxChars: number): string {
  const clip = new OutputClip(maxChars);
  clip.push(text);
  return clip.text();
}
