/**
 * A confirmation asked inside the page (a modal <dialog>), never window.confirm: the question
 * names exactly what will happen ("Allow api.example.com for c-1?"), and browser tests can
 * answer it like a user would.
 *
 *   if (!(await confirmAction({ title: 'Stop container?', body: name, yes: 'Stop' }))) return;
 */
import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { html } from './html';

export interface ConfirmRequest {
  title: string;
  body: ComponentChildren;
  yes: string;
  /** A red "yes" button for actions that widen access or destroy something. */
  danger?: boolean;
}

const pending = signal<(ConfirmRequest & { resolve: (yes: boolean) => void }) | null>(null);

/** Resolves true when the user pressed the "yes" button, false on "Cancel", Escape or a new request. */
export function confirmAction(request: ConfirmRequest): Promise<boolean> {
  pending.value?.resolve(false);
  return new Promise((resolve) => { pending.value = { ...request, resolve }; });
}

function answer(yes: boolean): void {
  const request = pending.value;
  pending.value = null;
  request?.resolve(yes);
}

export function ConfirmHost() {
  const request = pending.value;
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (request && el && !el.open) el.showModal();
  }, [request]);
  if (!request) return null;
  return html`<dialog ref=${dialog} class="confirm" data-testid="confirm-dialog" aria-labelledby="confirm-title"
      onCancel=${(e: Event) => { e.preventDefault(); answer(false); }}>
    <h2 id="confirm-title">${request.title}</h2>
    <div class="confirm-body">${request.body}</div>
    <div class="confirm-actions">
      <button type="button" data-testid="confirm-no" onClick=${() => answer(false)}>Cancel</button>
      <button type="button" class=${request.danger ? 'danger' : 'primary'} data-testid="confirm-yes" onClick=${() => answer(true)}>${request.yes}</button>
    </div>
  </dialog>`;
}
