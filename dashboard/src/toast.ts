/**
 * One line at the bottom of the page with the outcome of the last action (the server's own
 * result or error text), so every button gives the same kind of answer.
 *
 *   await act(() => api('/pairing/approve', { body: { code } }), (r) => `Approved ${r.approved.sender}.`);
 */
import { signal } from '@preact/signals';
import { WithCode } from './blocks';
import { html } from './html';
import { route } from './router';

/** `path`: the page it was shown on; it is not carried to other pages. */
interface Toast { text: string; error: boolean; n: number; path: string }
const current = signal<Toast | null>(null);
let hideTimer: ReturnType<typeof setTimeout> | undefined;
let counter = 0;

export function showToast(text: string, error = false): void {
  current.value = { text, error, n: ++counter, path: route.value };
  clearTimeout(hideTimer);
  hideTimer = setTimeout(() => { current.value = null; }, error ? 12_000 : 6_000);
}

/**
 * Runs an action, shows its result (or the error the server gave) and returns the result;
 * undefined when it failed, so callers can skip their follow-up.
 */
export async function act<T>(action: () => Promise<T>, describe: (result: T) => string): Promise<T | undefined> {
  try {
    const result = await action();
    showToast(describe(result));
    return result;
  } catch (err) {
    showToast((err as Error).message, true);
    return undefined;
  }
}

export function ToastHost() {
  const toast = current.value;
  if (!toast || toast.path !== route.value) return null;
  return html`<div class=${toast.error ? 'toast toast-error' : 'toast'} role=${toast.error ? 'alert' : 'status'} key=${toast.n}>
    <span data-testid="toast" data-error=${toast.error ? 'true' : 'false'}><${WithCode} text=${toast.text} /></span>
    <button type="button" class="link" aria-label="Dismiss" onClick=${() => { current.value = null; }}>×</button>
  </div>`;
}
