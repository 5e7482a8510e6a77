import { existsSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { AuditLog, auditLogPath, type AuditEvent } from '../audit/audit-log.ts';
import { runningGateway } from '../config/gateway-pid.ts';
import { homeLayout, resolveHome, type HomeLayout } from '../config/home.ts';
import type { OpResult } from '../core/ops.ts';
import { openDatabase } from '../store/database.ts';

/** How one area's operations run on the data folder when no gateway is running. */
export type LocalOps = (deps: { db: Database.Database; layout: HomeLayout; audit: (e: AuditEvent) => void }) => { dispatch(op: string, args: unknown, who: { actor: string; owner: boolean }): OpResult };

/**
 * Runs one management operation (`tasks`, `skills`) for `nanoclaw <area>`:
 * through the running gateway's API when there is one (the gateway is the
 * audit log's only writer, and its scheduler and skills folder must hear of
 * the change at once), else on the data folder directly, with its audit
 * record. Either way the operation is the same code (core/ops.ts), acting as
 * `cli`, the owner.
 *
 *   const res = await runOp('tasks', 'pause', { id: 3 }, ({ db, audit }) => new TaskOps({ db, config, clock: Date.now, audit }));
 */
export async function runOp(area: string, op: string, args: Record<string, unknown>, local: LocalOps): Promise<OpResult> {
  const layout = homeLayout(resolveHome());
  const gateway = runningGateway(layout);
  if (gateway) {
    const res = await fetch(`${gateway.url}/api/v1/manage/${area}`, {
      method: 'POST', body: JSON.stringify({ op, args, via: 'cli' }),
      headers: { authorization: `Bearer ${readFileSync(layout.apiToken, 'utf8').trim()}`, 'content-type': 'application/json' },
    });
    const body = await res.json().catch(() => undefined) as OpResult | undefined;
    if (body && typeof body.text === 'string') return body;
    throw new Error(`the gateway at ${gateway.url} answered ${res.status} to ${area} ${op}; is it the same version as this CLI? (\`nanoclaw start\` again after an upgrade)`);
  }
  if (!existsSync(layout.db)) throw new Error(`no NanoClaw data in ${layout.home}: start the gateway first (nanoclaw start)`);
  const db = openDatabase(layout.db);
  let log: AuditLog | undefined;
  try {
    log = AuditLog.open(auditLogPath(layout.home), { commit: 'each' });
    return local({ db, layout, audit: (e) => log!.append(e) }).dispatch(op, args, { actor: 'cli', owner: true });
  } finally {
    log?.close();
    db.close();
  }
}
