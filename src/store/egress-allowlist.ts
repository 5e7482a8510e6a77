import type Database from 'better-sqlite3';

/**
 * Domains the owner allowed for one conversation (`/allow example.com`), on
 * top of the global list in the config. Read on every egress decision, so a
 * change applies to the live container at once.
 *
 *   allowlist.add('c-...', 'example.com', 'owner');
 *   allowlist.list('c-...')   // ['example.com']
 */
export class EgressAllowlistStore {
  constructor(private readonly db: Database.Database) {}

  list(conversationId: string): string[] {
    return (this.db.prepare('SELECT entry FROM egress_allow WHERE conversation_id = ? ORDER BY added_at').all(conversationId) as any[]).map((r) => r.entry);
  }

  add(conversationId: string, entry: string, addedBy: string): boolean {
    return this.db.prepare('INSERT INTO egress_allow (conversation_id, entry, added_by, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(conversationId, entry, addedBy, Date.now()).changes > 0;
  }

  remove(conversationId: string, entry: string): boolean {
    return this.db.prepare('DELETE FROM egress_allow WHERE conversation_id = ? AND entry = ?').run(conversationId, entry).changes > 0;
  }
}
