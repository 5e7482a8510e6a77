/**
 * Splits a stream of text into NDJSON lines with a cap on a line's length, so
 * the other end cannot grow this one's memory by never ending a line. Used by
 * both ends of the protocol (the runner imports it: no imports here).
 *
 *   const lines = new LineReader(LIMITS.line);
 *   sock.on('data', (chunk: string) => {
 *     const { lines: complete, tooLong } = lines.push(chunk);
 *     for (const l of complete) handle(l);
 *     if (tooLong) sock.destroy();
 *   });
 */
export class LineReader {
  private buffer = '';
  private overflowed = false;

  constructor(readonly maxLine: number) {}

  /**
   * The complete, non-blank lines that `chunk` finishes, in order, and whether
   * a line went over the cap (then nothing after it is read, ever: the stream
   * is out of step and must be closed). Only the new chunk is searched for
   * line ends, so a long line costs linear time.
   */
  push(chunk: string): { lines: string[]; tooLong: boolean } {
    const lines: string[] = [];
    if (this.overflowed) return { lines, tooLong: true };
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      // Checked before joining, so an over-long line is never built in memory.
      if (this.buffer.length + (nl - start) > this.maxLine) return this.overflow(lines);
      const line = this.buffer + chunk.slice(start, nl);
      this.buffer = '';
      start = nl + 1;
      if (line.trim()) lines.push(line);
    }
    if (this.buffer.length + (chunk.length - start) > this.maxLine) return this.overflow(lines);
    this.buffer += chunk.slice(start);
    return { lines, tooLong: false };
  }

  /** True while a line has started and not yet ended. */
  get pending(): boolean { return this.buffer.length > 0; }

  private overflow(lines: string[]): { lines: string[]; tooLong: boolean } {
    this.overflowed = true;
    this.buffer = '';
    return { lines, tooLong: true };
  }
}
