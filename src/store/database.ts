import Database from 'better-sqlite3';

/**
 * Opens (and migrates) the SQLite store. WAL mode with synchronous=FULL: a
 * message is durable once the statement that stored it returns, which is what
 * lets the gateway acknowledge it (see store/store.ts).
 *
 *   const db = openDatabase(join(home, 'nanoclaw.db'));
 */
export function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** Exported for the tests that start from an older version. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     channel TEXT NOT NULL,
     chat TEXT NOT NULL,
     thread TEXT NOT NULL,
     memory INTEGER NOT NULL DEFAULT 0,
     session_id TEXT,
     data_dir TEXT,
     created_at INTEGER NOT NULL,
     last_active_at INTEGER NOT NULL,
     UNIQUE (channel, chat, thread)
   );
   CREATE TABLE inbound (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     conversation_id TEXT NOT NULL REFERENCES conversations(id),
     client_id TEXT,
     sender TEXT NOT NULL,
     text TEXT NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
     received_at INTEGER NOT NULL,
     done_at INTEGER,
     UNIQUE (conversation_id, client_id)
   );
   CREATE INDEX inbound_pending ON inbound (status, id);
   CREATE TABLE outbound (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     conversation_id TEXT NOT NULL REFERENCES conversations(id),
     inbound_id INTEGER REFERENCES inbound(id),
     kind TEXT NOT NULL CHECK (kind IN ('reply', 'error', 'notice')),
     text TEXT NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
     created_at INTEGER NOT NULL,
     sent_at INTEGER
   );
   CREATE INDEX outbound_pending ON outbound (status, id);
   CREATE INDEX outbound_by_inbound ON outbound (inbound_id);
   CREATE TABLE containers (
     name TEXT PRIMARY KEY,
     conversation_id TEXT,
     state TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     ended_at INTEGER,
     end_reason TEXT
   );
   CREATE TABLE usage (
     conversation_id TEXT NOT NULL,
     day TEXT NOT NULL,
     requests INTEGER NOT NULL DEFAULT 0,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (conversation_id, day)
   );`,
  `CREATE TABLE senders (
     channel TEXT NOT NULL,
     sender TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
     code TEXT,
     code_expires_at INTEGER,
     created_at INTEGER NOT NULL,
     approved_at INTEGER,
     PRIMARY KEY (channel, sender)
   );
   CREATE UNIQUE INDEX senders_by_code ON senders (code) WHERE code IS NOT NULL;
   CREATE TABLE egress_allow (
     conversation_id TEXT NOT NULL,
     entry TEXT NOT NULL,
     added_by TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     PRIMARY KEY (conversation_id, entry)
   );`,
  `CREATE TABLE attachments (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     inbound_id INTEGER NOT NULL REFERENCES inbound(id),
     name TEXT NOT NULL,
     data BLOB NOT NULL
   );
   CREATE INDEX attachments_by_inbound ON attachments (inbound_id);`,
  // The turn ledger: how often a message's turn was started, and how it ended
  // ('answered', or 'failed' once it used up its attempts), so a message that
  // keeps failing cannot wedge its conversation.
  `ALTER TABLE inbound ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE inbound ADD COLUMN last_error TEXT;
   ALTER TABLE inbound ADD COLUMN outcome TEXT CHECK (outcome IN ('answered', 'failed'));`,
  // Usage by every token kind the model bills (cache writes and reads are
  // most of an agent's input) and its cost, priced per model when each call
  // is recorded. Rows from before are priced at the single rate used then
  // (USD 3 in, 15 out per million). usage_by_day serves the budget's
  // all-conversations sum, asked before every model call.
  `ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE usage ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE usage ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
   UPDATE usage SET cost_usd = (input_tokens * 3.0 + output_tokens * 15.0) / 1000000;
   CREATE INDEX usage_by_day ON usage (day);`,
  // Delivery as a worker's job (core/delivery.ts): a state that can say
  // `sending` and `failed` (the old status column's CHECK allows only pending
  // and sent, and SQLite cannot widen a CHECK in place, so `state` replaces
  // it; `status` is dropped by a later migration), the attempts,
  // when the next one may start, the last error, the platform's message ids
  // (JSON), and whether the agent has been told of a failure.
  `ALTER TABLE outbound ADD COLUMN state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed'));
   UPDATE outbound SET state = status;
   ALTER TABLE outbound ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE outbound ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE outbound ADD COLUMN last_error TEXT;
   ALTER TABLE outbound ADD COLUMN platform_ids TEXT;
   ALTER TABLE outbound ADD COLUMN failed_at INTEGER;
   ALTER TABLE outbound ADD COLUMN agent_told INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX outbound_by_state ON outbound (state, conversation_id, id);`,
  // Attachments are files in the host's attachment store (store/attachments.ts),
  // not BLOBs kept forever: a row keeps the name, size, sha256 and the path,
  // and says when and why the file was deleted. Rows from before keep their
  // BLOB (data) until the retention sweep clears it.
  `CREATE TABLE attachments_v2 (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     inbound_id INTEGER NOT NULL REFERENCES inbound(id),
     name TEXT NOT NULL,
     data BLOB,
     size INTEGER NOT NULL DEFAULT 0,
     sha256 TEXT,
     path TEXT,
     removed_at INTEGER,
     removed_reason TEXT
   );
   INSERT INTO attachments_v2 (id, inbound_id, name, data, size) SELECT id, inbound_id, name, data, length(data) FROM attachments;
   DROP TABLE attachments;
   ALTER TABLE attachments_v2 RENAME TO attachments;
   CREATE INDEX attachments_by_inbound ON attachments (inbound_id);`,
  // The sender's display name as the channel gave it, so the agent can tell
  // people apart in a group (the id stays the key for access and pairing).
  `ALTER TABLE inbound ADD COLUMN sender_name TEXT;`,
  // Outbound `status` (pending/sent) was kept in step with `state` but read by
  // nothing: state that could only drift. Its index goes with it.
  `DROP INDEX outbound_pending;
   ALTER TABLE outbound DROP COLUMN status;`,
  // Contracts v2: outbound messages carry buttons (the agent's questions) and
  // files (host-owned copies, like inbound attachments); host tool calls are
  // recorded by their idempotency key (inbound message, call number), so a
  // turn re-run after a crash cannot send or ask twice; questions wait for
  // their answer in their own table.
  `ALTER TABLE outbound ADD COLUMN buttons TEXT;
   ALTER TABLE outbound ADD COLUMN question_id INTEGER;
   CREATE TABLE outbound_files (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     outbound_id INTEGER NOT NULL REFERENCES outbound(id),
     name TEXT NOT NULL,
     size INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     path TEXT NOT NULL,
     removed_at INTEGER,
     removed_reason TEXT
   );
   CREATE INDEX outbound_files_by_outbound ON outbound_files (outbound_id);
   CREATE TABLE host_calls (
     inbound_id INTEGER NOT NULL REFERENCES inbound(id),
     call INTEGER NOT NULL,
     tool TEXT NOT NULL,
     result TEXT,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (inbound_id, call)
   );
   CREATE TABLE questions (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     conversation_id TEXT NOT NULL REFERENCES conversations(id),
     inbound_id INTEGER NOT NULL REFERENCES inbound(id),
     call INTEGER NOT NULL,
     question TEXT NOT NULL,
     choices TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'cancelled')),
     answer TEXT,
     answered_by TEXT,
     created_at INTEGER NOT NULL,
     closed_at INTEGER,
     UNIQUE (inbound_id, call)
   );
   CREATE INDEX questions_open ON questions (conversation_id) WHERE state = 'open';`,
  // A voice note (recorded speech) among a message's attachments, marked by
  // its channel: the turn has it transcribed before the agent reads the message.
  `ALTER TABLE attachments ADD COLUMN voice INTEGER NOT NULL DEFAULT 0;`,
  // The owner's /model choice for one conversation (JSON: engine, providers),
  // laid over the config's; NULL follows the config.
  `ALTER TABLE conversations ADD COLUMN agent_choice TEXT;`,
  // Scheduled tasks (src/tasks/). A task belongs to one conversation; its
  // schedule is a one-off time, a cron expression in an IANA zone, or an
  // interval. Each run is claimed once, keyed (task, scheduled time), in the
  // same transaction that queues its message (inbound.task_id), so a
  // restart, a crash or two overlapping ticks never run one twice; a run
  // skipped (missed while the gateway was down, or the previous one still
  // going) gets its row too, with the reason.
  `CREATE TABLE tasks (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     conversation_id TEXT NOT NULL REFERENCES conversations(id),
     name TEXT NOT NULL,
     prompt TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('once', 'cron', 'every')),
     spec TEXT NOT NULL,
     tz TEXT NOT NULL,
     missed TEXT NOT NULL CHECK (missed IN ('run', 'skip')),
     state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'done', 'cancelled')),
     next_run_at INTEGER,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX tasks_due ON tasks (next_run_at) WHERE state = 'active';
   CREATE INDEX tasks_by_conversation ON tasks (conversation_id);
   CREATE TABLE task_runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     task_id INTEGER NOT NULL REFERENCES tasks(id),
     scheduled_for INTEGER NOT NULL,
     claimed_at INTEGER NOT NULL,
     inbound_id INTEGER REFERENCES inbound(id),
     outcome TEXT NOT NULL CHECK (outcome IN ('queued', 'skipped')),
     reason TEXT,
     UNIQUE (task_id, scheduled_for)
   );
   ALTER TABLE inbound ADD COLUMN task_id INTEGER REFERENCES tasks(id);`,
  // Skills (src/skills/): every version the owner approved or was asked to,
  // by content hash (the files live under skills/versions/<name>/<hash>/);
  // proposals waiting for the owner's word; and per skill the version in use
  // and whether it is on. Nothing is deleted, so any version can come back.
  `CREATE TABLE skill_versions (
     name TEXT NOT NULL,
     hash TEXT NOT NULL,
     description TEXT NOT NULL,
     source TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (name, hash)
   );
   CREATE TABLE skill_proposals (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL,
     hash TEXT NOT NULL,
     base_hash TEXT,
     conversation_id TEXT REFERENCES conversations(id),
     proposed_by TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'superseded')),
     decided_by TEXT,
     created_at INTEGER NOT NULL,
     decided_at INTEGER,
     FOREIGN KEY (name, hash) REFERENCES skill_versions(name, hash)
   );
   CREATE TABLE skills (
     name TEXT PRIMARY KEY,
     hash TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     updated_by TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     FOREIGN KEY (name, hash) REFERENCES skill_versions(name, hash)
   );
   CREATE TABLE skill_history (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     name TEXT NOT NULL,
     action TEXT NOT NULL,
     hash TEXT,
     actor TEXT NOT NULL,
     at INTEGER NOT NULL
   );`,
  // The dashboard (src/dashboard/): usage by provider and model next to the
  // per-conversation daily rows the budget reads (the charts split by both);
  // single-use login codes and browser sessions. A login code and a session
  // cookie are stored only as hashes, so a copy of the database opens no
  // session (a session's CSRF token is kept as is: it is no use without the cookie).
  `CREATE TABLE usage_models (
     conversation_id TEXT NOT NULL,
     day TEXT NOT NULL,
     provider TEXT NOT NULL,
     model TEXT NOT NULL,
     requests INTEGER NOT NULL DEFAULT 0,
     input_tokens INTEGER NOT NULL DEFAULT 0,
     output_tokens INTEGER NOT NULL DEFAULT 0,
     cache_write_tokens INTEGER NOT NULL DEFAULT 0,
     cache_read_tokens INTEGER NOT NULL DEFAULT 0,
     cost_usd REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (day, conversation_id, provider, model)
   );
   CREATE TABLE dashboard_logins (
     code_hash TEXT PRIMARY KEY,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE TABLE dashboard_sessions (
     id TEXT PRIMARY KEY,
     secret_hash TEXT NOT NULL UNIQUE,
     csrf TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     revoked_at INTEGER
   );`,
];

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
