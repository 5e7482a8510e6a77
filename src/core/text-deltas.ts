/**
 * Gathers the model's streamed text per conversation before it goes to live
 * views: a model streams dozens of small deltas a second, and one event every
 * `everyMs` is plenty. Order is kept: a turn's gathered text goes out before
 * any other progress of that turn, and is dropped when the step's whole text
 * arrives, which replaces it.
 *
 *   const deltas = new TextDeltas((id, text) => emit({ type: 'progress', conversationId: id, kind: 'text_delta', text }));
 *   deltas.add('c-1', 'Hel'); deltas.add('c-1', 'lo');   // one event "Hello", 100 ms later
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

  /** Sends `id`'s gathered text now (before its next progress event). */
  flush(id: string): void {
    const gathered = this.pending.get(id);
    this.pending.delete(id);
    if (gathered) this.send(id, gathered);
  }

  /** Forgets `id`'s gathered text: the step's whole text, or the turn's end, supersedes it. */
  drop(id: string): void {
    this.pending.delete(id);
  }

  private flushAll(): void {
    this.timer = undefined;
    for (const id of [...this.pending.keys()]) this.flush(id);
  }
}
