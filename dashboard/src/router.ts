/**
 * Client-side routes under /dash: the server answers every page path with the same index.html,
 * and the client picks the page from location.pathname. Same-origin links inside the page are
 * followed with history.pushState, so moving between pages keeps the session (held in memory)
 * and the event stream.
 *
 *   const r = parseRoute(route.value);   // { page: 'conversation', id: 'c-1' }
 *   navigate('/dash/audit');
 */
import { signal } from '@preact/signals';

export type Page =
  | 'overview' | 'conversations' | 'conversation' | 'containers' | 'audit'
  | 'usage' | 'pairing' | 'egress' | 'login' | 'not-found';

export interface Route { page: Page; id?: string }

/** The current path (pathname plus search), updated by navigate() and the back button. */
export const route = signal(location.pathname + location.search);

const simple: Record<string, Page> = {
  '': 'overview', conversations: 'conversations', containers: 'containers', audit: 'audit',
  usage: 'usage', pairing: 'pairing', egress: 'egress', login: 'login',
};

export function parseRoute(path: string): Route {
  const pathname = path.split('?')[0].replace(/\/+$/, '');
  const match = /^\/dash(?:\/(.*))?$/.exec(pathname);
  if (!match) return { page: 'not-found' };
  const rest = match[1] ?? '';
  if (rest in simple) return { page: simple[rest] };
  const conversation = /^conversations\/([^/]+)$/.exec(rest);
  if (conversation) return { page: 'conversation', id: decodeURIComponent(conversation[1]) };
  return { page: 'not-found' };
}

/** The link to a conversation's page; ids are encoded, since they come from the server. */
export function conversationPath(id: string): string {
  return `/dash/conversations/${encodeURIComponent(id)}`;
}

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route.value = location.pathname + location.search;
  if (!replace) window.scrollTo(0, 0);
}

/** Follows plain left-clicks on /dash links in-page; downloads, new-tab clicks and API links go to the browser. */
export function interceptLinks(): void {
  addEventListener('popstate', () => { route.value = location.pathname + location.search; });
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.('a');
    if (!link || link.hasAttribute('download') || link.target) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith('/dash') || url.pathname.startsWith('/dash/api')) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
