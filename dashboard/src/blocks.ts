/**
 * The building blocks every page is made of: the page frame with its title, cards, a coloured
 * state badge, and the notes for "loading", "failed" and "nothing here yet". Keeping them in one
 * place keeps the pages calm and alike.
 *
 *   return html`<${PageFrame} id="page-audit" title="Audit log">...<//>`;
 *   html`<${Badge} tone="bad">failed<//>`
 */
import type { ComponentChildren } from 'preact';
import { html } from './html';

export type Tone = 'ok' | 'warn' | 'bad' | 'idle' | 'busy';

export function PageFrame(props: { id: string; title: ComponentChildren; actions?: ComponentChildren; children?: ComponentChildren }) {
  return html`<section class="page" data-testid=${props.id}>
    <header class="page-head">
      <h1>${props.title}</h1>
      ${props.actions ? html`<div class="page-actions">${props.actions}</div>` : null}
    </header>
    ${props.children}
  </section>`;
}

export function Card(props: { title?: ComponentChildren; testid?: string; wide?: boolean; children?: ComponentChildren }) {
  return html`<div class=${props.wide ? 'card card-wide' : 'card'} data-testid=${props.testid}>
    ${props.title ? html`<h2 class="card-title">${props.title}</h2>` : null}
    ${props.children}
  </div>`;
}

export function Badge(props: { tone: Tone; children?: ComponentChildren }) {
  return html`<span class=${`badge badge-${props.tone}`}>${props.children}</span>`;
}

/** "Loading…", the error a fetch gave, or nothing; pages render their data below it. */
export function Status(props: { loading: boolean; error?: string; hasData: boolean }) {
  if (props.error) return html`<p class="note note-error" role="alert">${props.error}</p>`;
  if (props.loading && !props.hasData) return html`<p class="note muted">Loading…</p>`;
  return null;
}

export function Empty(props: { children?: ComponentChildren }) {
  return html`<p class="empty muted">${props.children}</p>`;
}

/** An id, hash or host: monospace, and whole on hover when cut short. */
export function Mono(props: { text: string | null | undefined; max?: number }) {
  const text = props.text ?? '–';
  const cut = props.max && text.length > props.max ? `${text.slice(0, props.max)}…` : text;
  return html`<code class="mono" title=${text}>${cut}</code>`;
}

/** A time shown short, with the exact ISO time in its tooltip. */
export function When(props: { iso: string | null | undefined; text: string }) {
  return html`<time datetime=${props.iso ?? undefined} title=${props.iso ?? undefined}>${props.text}</time>`;
}

/**
 * A server message as text, with its `backticked` parts (commands to run) shown as code.
 *
 *   <${WithCode} text="Run `nanoclaw dashboard` for a new one." />
 */
export function WithCode(props: { text: string }) {
  return html`${props.text.split('`').map((part, i) => (i % 2 ? html`<code>${part}</code>` : part))}`;
}
