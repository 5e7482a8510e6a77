import type Database from 'better-sqlite3';

/** A question the agent asked the user (`ask_user`), open until answered or its turn ends. */
export interface Question {
  id: number;
  conversationId: string;
  inboundId: number;
  call: number;
  question: string;
  choices: string[];
  state: 'open' | 'answered' | 'cancelled';
  answer: string | null;
  answeredBy: string | null;
  createdAt: number;
}

const row = (r: any): Question => ({
  id: r.id, conversationId: r.conversation_id, inboundId: r.inbound_id, call: r.call, question: r.question,
  choices: JSON.parse(r.choices), state: r.state, answer: r.answer, answeredBy: r.answered_by, createdAt: r.created_at,
});

/**
 * The agent's questions, keyed like every host call by (inbound message, call
 * number): a turn re-run after a crash that asks again finds its question
 * (and an answer that came meanwhile) instead of asking twice. At most one
 * question per conversation is open at a time: the turn that asks waits.
 *
 *   const q = questions.open(conv.id, msg.id, 1, 'Which one?', ['A', 'B']).question;
 *   questions.answer(q.id, 'A', 'telegram:42');
 */
export class Questions {
  constructor(private readonly db: Database.Database) {}

  /** Opens the question, or returns the one this key already opened (`created: false`). */
  open(conversationId: string, inboundId: number, call: number, question: string, choices: string[]): { question: Question; created: boolean } {
    const existing = this.db.prepare('SELECT * FROM questions WHERE inbound_id = ? AND call = ?').get(inboundId, call);
    if (existing) return { question: row(existing), created: false };
    const id = Number(this.db.prepare('INSERT INTO questions (conversation_id, inbound_id, call, question, choices, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(conversationId, inboundId, call, question, JSON.stringify(choices), Date.now()).lastInsertRowid);
    return { question: this.get(id)!, created: true };
  }

  get(id: number): Question | undefined {
    const r = this.db.prepare('SELECT * FROM questions WHERE id = ?').get(id);
    return r ? row(r) : undefined;
  }

  /** The conversation's open question, if any. */
  openIn(conversationId: string): Question | undefined {
    const r = this.db.prepare("SELECT * FROM questions WHERE conversation_id = ? AND state = 'open' ORDER BY id DESC LIMIT 1").get(conversationId);
    return r ? row(r) : undefined;
  }

  /** Records the answer; false when the question is not open (answered already, or its turn ended). */
  answer(id: number, answer: string, by: string): boolean {
    return this.db.prepare("UPDATE questions SET state = 'answered', answer = ?, answered_by = ?, closed_at = ? WHERE id = ? AND state = 'open'")
      .run(answer, by, Date.now(), id).changes === 1;
  }

  cancel(id: number): void {
    this.db.prepare("UPDATE questions SET state = 'cancelled', closed_at = ? WHERE id = ? AND state = 'open'").run(Date.now(), id);
  }

  /** Closes the questions of messages no turn will run again (answered or set aside); run at start. */
  cancelStale(): number {
    return this.db.prepare(`UPDATE questions SET state = 'cancelled', closed_at = ? WHERE state = 'open'
      AND inbound_id IN (SELECT id FROM inbound WHERE status = 'done')`).run(Date.now()).changes;
  }
}
