// Package readmes (Markdown from anyone who published a package) rendered to HTML that cannot run code or
// fetch anything. The only importer of markdown-it. Four layers: raw HTML in the Markdown is shown as text
// (html: false — the choice nuget.org's own renderer makes); links are kept only for http(s), mailto and
// in-page anchors; images become links (the page never loads a remote image); and the output is checked
// against an allowlist of the tags and attributes this renderer emits — anything else and the readme is
// shown as plain text. The page's Content-Security-Policy (no script at all) stands behind all four.

import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { escapeHtml, html, safeExternalUrl, trustedHtml, type Html } from './html.ts';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
md.validateLink = (url: string): boolean => url.startsWith('#') || safeExternalUrl(url) !== null;

const REL = 'nofollow noopener noreferrer';

md.renderer.rules['link_open'] = (tokens, idx, options, _env, self) => {
  (tokens[idx] as Token).attrSet('rel', REL);
  return self.renderToken(tokens, idx, options);
};

// An image is shown as a link to it: loading it would tell a third party who reads the page.
md.renderer.rules['image'] = (tokens, idx) => {
  const token = tokens[idx] as Token;
  const src = token.attrGet('src') ?? '';
  const alt = token.children ? md.renderer.renderInlineAsText(token.children, md.options, {}) : token.content;
  const label = `[image${alt ? `: ${alt}` : ''}]`;
  const href = safeExternalUrl(src);
  return href ? `<a href="${escapeHtml(href)}" rel="${REL}" class="image-link">${escapeHtml(label)}</a>` : escapeHtml(label);
};

// Table alignment arrives as style="text-align:…"; inline styles are refused by the page's CSP, so it
// becomes a class.
md.core.ruler.push('align_classes', (state) => {
  for (const token of state.tokens) {
    if (token.type !== 'th_open' && token.type !== 'td_open') continue;
    const style = token.attrGet('style');
    if (!style) continue;
    token.attrs = (token.attrs ?? []).filter(([name]) => name !== 'style');
    const m = /text-align:(left|right|center)/.exec(style);
    if (m) token.attrSet('class', `align-${m[1]}`);
  }
  return true;
});

const ALLOWED_TAGS = new Set([
  'a', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'li', 'ol', 'p', 'pre', 's',
  'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
]);
const ALLOWED_ATTRIBUTES = new Set(['href', 'title', 'rel', 'class', 'start']);
const TAG_SOURCE = String.raw`<\/?([A-Za-z][A-Za-z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>`;
const TAGS = new RegExp(TAG_SOURCE, 'g');
const ONE_TAG = new RegExp(`^${TAG_SOURCE}$`);
const ATTRIBUTE = /\s+([^\s=>]+)(?:="([^"]*)")?/g;

/** true when every tag and attribute is one this renderer is meant to produce, and every href is safe. */
export function isAllowedMarkup(markup: string): boolean {
  // Every '<' must start a tag we recognise; escaped text carries none.
  const tags = markup.match(TAGS) ?? [];
  if (tags.join('').split('<').length !== markup.split('<').length) return false;
  for (const tag of tags) {
    const m = ONE_TAG.exec(tag);
    if (!m?.[1] || !ALLOWED_TAGS.has(m[1].toLowerCase())) return false;
    for (const a of (m[2] ?? '').matchAll(ATTRIBUTE)) {
      const name = (a[1] ?? '').toLowerCase();
      if (!ALLOWED_ATTRIBUTES.has(name)) return false;
      if (name === 'href') {
        const href = (a[2] ?? '').replace(/&amp;/g, '&');
        if (!href.startsWith('#') && safeExternalUrl(href) === null) return false;
      }
    }
  }
  return true;
}

/** Markdown → safe HTML (see the module comment). */
export function renderReadme(markdown: string): Html {
  const rendered = md.render(markdown);
  if (isAllowedMarkup(rendered)) return trustedHtml(rendered);
  return html`<pre class="readme-text">${markdown}</pre>`;
}
