/**
 * Gathers an engine's text deltas before they cross to the host: a model
 * streams dozens of small deltas a second, and one progress message every
 * `everyMs` is plenty for a live view. Order is kept: a turn's gathered text
 * goes out before any other progress of that turn, and is dropped when the
 * step's whole text arrives, which replaces it.
 *
 *   const deltas = new TextDeltas((id, text) => send({ type: 'progress', id, kind: 'text_delta', text }));
 *   deltas.add('7', 'Hel'); deltas.add('7', 'lo');   // one message "Hello", 100 ms later
 */
export class TextDeltas {
  private readonly pending = new Map<string, string>();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly send: (id: string, text: string) => void,
    private readonly everyMs = 100,
    /** Gathered text is sent at once when it reaches this size. */
    private readonly maxChars = 4096,
  ) {}

  add(id: string, text: string): void {
    const gathered = (this.pending.get(id) ?? '') + text;
    if (gathered.length >= this.maxChars) {
      this.pending.delete(id);
      this.send(id, gathered);
      return;
    }
    this.pending.set(id, gathered);
    this.timer ??= setTimeout(() => this.flushAll(), this.everyMs);
  }

  /** Sends turn `id`'s gathered text now (before its next progress message). */
  flush(id: string): void {
    const gathered = this.pending.get(id);
    this.pending.delete(id);
    if (gathered) this.send(id, gathered);
  }

  /** Forgets turn `id`'s gathered text: its whole text, or its end, supersedes it. */
  drop(id: string): void {
    this.pending.delete(id);
  }

  private flushAll(): void {
    this.timer = undefined;
    for (const id of [...this.pending.keys()]) this.flush(id);
  }
}
