/**
 * The dashboard's entry point, bundled by scripts/build-dashboard.mjs into dist/dash/assets/app.js
 * and loaded by index.html as a module (the page's CSP allows no inline script).
 */
import { render } from 'preact';
import { App } from './app';
import { html } from './html';
import { interceptLinks } from './router';

interceptLinks();
render(html`<${App} />`, document.getElementById('app')!);
