import { existsSync } from 'node:fs';
import { homeLayout, resolveHome } from '../config/home.ts';
import { openDatabase } from '../store/database.ts';
import { SenderStore } from '../store/senders.ts';

function senders(): SenderStore {
  const layout = homeLayout(resolveHome());
  if (!existsSync(layout.db)) throw new Error(`no NanoClaw data in ${layout.home}: start the gateway first`);
  return new SenderStore(openDatabase(layout.db));
}

/** `nanoclaw pair approve <code>`: lets the sender who got this code talk to the agent. */
export async function runPairApprove(code: string): Promise<void> {
  const approved = senders().approve(code);
  if (!approved) throw new Error(`no pending pairing code ${code.toUpperCase()} (codes are single-use and expire after an hour); \`nanoclaw pair list\` shows pending ones.`);
  process.stdout.write(`approved ${approved.channel}:${approved.sender}; their messages now reach the agent\n`);
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

/** `nanoclaw pair revoke <channel:sender>`. */
export async function runPairRevoke(who: string): Promise<void> {
  const i = who.indexOf(':');
  if (i < 1) throw new Error('expected channel:sender, as `nanoclaw pair list` prints it');
  if (!senders().revoke(who.slice(0, i), who.slice(i + 1))) throw new Error(`no sender ${who}`);
  process.stdout.write(`revoked ${who}\n`);
}
