import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runningGateway } from '../config/gateway-pid.ts';
import { homeLayout, resolveHome } from '../config/home.ts';

export interface DashboardOptions {
  print?: boolean;
  revokeAll?: boolean;
  sessions?: boolean;
}

/** Calls the running gateway's `/api/v1/dashboard/*` with the API token; says what to do when there is none. */
async function callGateway(method: 'GET' | 'POST', path: string): Promise<any> {
  const layout = homeLayout(resolveHome());
  const gateway = runningGateway(layout);
  if (!gateway) throw new Error('the gateway is not running: start it with `nanoclaw start` (the dashboard is part of it), then run `nanoclaw dashboard` again');
  if (!gateway.url) throw new Error('the dashboard is off: it is served on the HTTP API\'s listener, and channels.api.enabled is false (docs/dashboard.md)');
  const res = await fetch(`${gateway.url}/api/v1/dashboard/${path}`, {
    method, headers: { authorization: `Bearer ${readFileSync(layout.apiToken, 'utf8').trim()}` },
  });
  if (res.status === 404) throw new Error('the dashboard is off: set dashboard.enabled to true, and keep channels.api.host on a loopback address (127.0.0.1), then restart the gateway (docs/dashboard.md)');
  const body = await res.json().catch(() => undefined);
  if (!res.ok || !body) throw new Error(`the gateway answered ${res.status} to ${path}${body?.error?.message ? `: ${body.error.message}` : ''}`);
  return body;
}

/** The desktop's "open this URL" command, or undefined where there is no desktop to open it on. */
function opener(): string | undefined {
  if (process.platform === 'darwin') return 'open';
  if (process.platform === 'linux' && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) return 'xdg-open';
  return undefined;
}

/**
 * `nanoclaw dashboard`: a single-use login link (two minutes) to the web
 * dashboard, opened in the browser or printed; `--revoke-all` signs every
 * browser out; `--sessions` lists them.
 */
export async function runDashboard(opts: DashboardOptions): Promise<void> {
  if (opts.revokeAll) {
    const { revoked } = await callGateway('POST', 'revoke');
    process.stdout.write(`Signed out ${revoked} dashboard session${revoked === 1 ? '' : 's'}; unused login links no longer work.\n`);
    return;
  }
  if (opts.sessions) {
    const { sessions } = await callGateway('GET', 'sessions');
    process.stdout.write(sessions.length
      ? sessions.map((s: any) => `${s.id}  signed in ${s.createdAt}, last seen ${s.lastSeenAt}, ends by ${s.endsBy} at the latest`).join('\n') + '\n'
      : 'No dashboard sessions.\n');
    return;
  }
  const link = await callGateway('POST', 'link');
  const open = opts.print ? undefined : opener();
  if (open) {
    const child = spawn(open, [link.url], { stdio: 'ignore', detached: true });
    const opened = await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false));
      child.once('spawn', () => resolve(true));
    });
    child.unref();
    if (opened) {
      process.stdout.write(`Opened the dashboard in your browser (${link.name}). If nothing opened, run \`nanoclaw dashboard --print\`.\n`);
      return;
    }
  }
  process.stdout.write([
    'Open this link in a browser on this machine (it works once, for two minutes):',
    '',
    `  ${link.url}`,
    '',
    'From another machine: forward the port over SSH first (docs/dashboard.md).',
  ].join('\n') + '\n');
}
