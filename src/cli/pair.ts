import { existsSync, readFileSync } from 'node:fs';
import { AuditLog, auditLogPath } from '../audit/audit-log.ts';
import { homeLayout, resolveHome } from '../config/home.ts';
import { runningGateway } from '../config/gateway-pid.ts';
import { openDatabase } from '../store/database.ts';
import { SenderStore } from '../store/senders.ts';

function senders(): SenderStore {
  const layout = homeLayout(resolveHome());
  if (!existsSync(layout.db)) throw new Error(`no NanoClaw data in ${layout.home}: start the gateway first`);
  return new SenderStore(openDatabase(layout.db));
}

/**
 * `nanoclaw pair approve <code>`: lets the sender who got this code talk to
 * the agent. With a gateway running, the approval goes through its API so the
 * gateway (the audit log's only writer) records it; otherwise it is written
 * here, with its audit record.
 */
export async function runPairApprove(code: string): Promise<void> {
  const layout = homeLayout(resolveHome());
  const notFound = `no pending pairing code ${code.toUpperCase()} (codes are single-use and expire after an hour); \`nanoclaw pair list\` shows pending ones.`;
  const gateway = runningGateway(layout);
  let approved: { channel: string; sender: string } | undefined;
  if (gateway) {
    const res = await fetch(`${gateway.url}/api/v1/pairing/approve`, {
      method: 'POST', body: JSON.stringify({ code }),
      headers: { authorization: `Bearer ${readFileSync(layout.apiToken, 'utf8').trim()}`, 'content-type': 'application/json' },
    });
    if (res.status === 404) throw new Error(notFound);
    if (!res.ok) throw new Error(`the gateway refused the approval: ${res.status} ${await res.text()}`);
    approved = ((await res.json()) as any).approved;
  } else {
    approved = senders().approve(code);
    if (!approved) throw new Error(notFound);
    const log = AuditLog.open(auditLogPath(layout.home));
    log.append({ type: 'pairing.approved', actor: 'cli', data: { channel: approved.channel, sender: approved.sender } });
    log.close();
  }
  process.stdout.write(`approved ${approved!.channel}:${approved!.sender}; their messages now reach the agent\n`);
}


/** `nanoclaw pair list`: approved senders and pending codes. */
export async function runPairList(): Promise<void> {
  const all = senders().list();
  if (!all.length) return void process.stdout.write('no senders yet\n');
  for (const s of all) {
    const pending = s.status === 'pending' && s.code && (s.codeExpiresAt ?? 0) > Date.now();
    process.stdout.write(`${s.channel}:${s.sender}  ${s.status}${pending ? `  code ${s.code} (expires ${new Date(s.codeExpiresAt!).toISOString()})` : ''}\n`);
  }
}

/**
 * `nanoclaw pair add <channel:sender>`: approves a sender who has not written
 * yet (an email address, say, on a channel that never answers strangers with
 * a code): a code is made for them and approved at once, as `approve` does.
 */
export async function runPairAdd(who: string): Promise<void> {
  const i = who.indexOf(':');
  if (i < 1 || i === who.length - 1) throw new Error('expected channel:sender, e.g. email:bob@example.com or telegram:12345');
  const request = senders().requestPairing(who.slice(0, i), who.slice(i + 1));
  if (!request.code) return void process.stdout.write(`${who} is already approved\n`);
  await runPairApprove(request.code);
}

/** `nanoclaw pair revoke <channel:sender>`. */
export async function runPairRevoke(who: string): Promise<void> {
  const i = who.indexOf(':');
  if (i < 1) throw new Error('expected channel:sender, as `nanoclaw pair list` prints it');
  if (!senders().revoke(who.slice(0, i), who.slice(i + 1))) throw new Error(`no sender ${who}`);
  process.stdout.write(`revoked ${who}\n`);
}
