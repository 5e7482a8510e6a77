/**
 * htm bound to Preact's h: tagged templates instead of JSX, so the client needs no JSX compiler.
 * Interpolated values become text nodes or attribute values, never markup, which is what keeps
 * conversation text and audit data inert.
 *
 *   html`<p class="muted">${untrustedText}</p>`
 */
import htm from 'htm';
import { h, type VNode } from 'preact';

export const html = htm.bind(h) as (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
