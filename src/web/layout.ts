// The page shell every web page shares (header, search box, footer), the login and error pages, and the
// Reply that carries a page: HTML with a Content-Security-Policy that allows no script at all, styles and
// images from this origin only, and forms that post only here.

import type { Reply } from '../http.ts';
import { html, trustedHtml, type Html } from './html.ts';
import { WEB_PATHS } from './paths.ts';
import { STYLE_CSP_SOURCE, STYLE_CSS, STYLE_HASH } from './style.ts';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/**
 * The login page loads nothing from the (gated) origin: its stylesheet is inline, allowed by its hash
 * alone, and its icon is a data: URL.
 */
export const LOGIN_CONTENT_SECURITY_POLICY = `default-src 'none'; style-src ${STYLE_CSP_SOURCE}; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

export interface Shell {
  readonly basePath: string;
  readonly title: string;
  /** The search box's current text. */
  readonly q?: string;
  /** Show the log-out link (an access token is configured). */
  readonly tokenGate?: boolean;
  /** Everything inline (the login page, which must load nothing the token gate would refuse). */
  readonly selfContained?: boolean;
}

function navigation(shell: Shell): Html {
  const b = shell.basePath;
  return html`<nav><a href="${b}${WEB_PATHS.home}#status">Status</a><a href="${b}${WEB_PATHS.home}#packages">Packages</a>${
    shell.tokenGate ? html`<a href="${b}${WEB_PATHS.logout}">Log out</a>` : ''
  }</nav>
<form method="get" action="${b}${WEB_PATHS.home}#packages" role="search">
<input type="search" name="q" value="${shell.q ?? ''}" placeholder="Search cached packages by id" aria-label="Search cached packages by id" maxlength="200">
<button type="submit">Search</button>
</form>`;
}

export function renderPage(shell: Shell, body: Html): string {
  const b = shell.basePath;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${shell.title} · nuget-proxy</title>
${
    shell.selfContained
      ? html`<link rel="icon" href="${FAVICON_DATA_URL}" type="image/svg+xml">
<style>${trustedHtml(STYLE_CSS)}</style>`
      : html`<link rel="icon" href="${b}${WEB_PATHS.favicon}" type="image/svg+xml">
<link rel="stylesheet" href="${b}${WEB_PATHS.style}?v=${STYLE_HASH}">`
  }
</head>
<body>
<header class="top"><div class="inner">
<a class="brand" href="${b}${WEB_PATHS.home}">nuget-proxy<small>NuGet V3 cache</small></a>
${shell.selfContained ? '' : navigation(shell)}
</div></header>
<main>
${body}
</main>
<footer>Read-only view of this proxy's cache. The NuGet feed is at <span class="mono">${b}/v3/index.json</span>.</footer>
</body>
</html>
`.value;
}

export function htmlReply(status: number, page: string, headers: Readonly<Record<string, string>> = {}): Reply {
  return {
    status,
    resource: 'web',
    body: { kind: 'bytes', data: Buffer.from(page, 'utf8'), contentType: 'text/html; charset=utf-8' },
    headers: { ...SECURITY_HEADERS, 'Cache-Control': 'no-store', ...headers },
  };
}

export function styleReply(): Reply {
  return {
    status: 200,
    resource: 'web',
    body: { kind: 'bytes', data: Buffer.from(STYLE_CSS, 'utf8'), contentType: 'text/css; charset=utf-8' },
    // The URL carries the content hash; `private`: behind an access token it must not sit in shared caches.
    headers: { ...SECURITY_HEADERS, 'Cache-Control': 'private, max-age=86400' },
  };
}

const FAVICON = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f5bd3"/>' +
    '<path d="M9 23V9h3l8 9.5V9h3v14h-3l-8-9.5V23z" fill="#fff"/></svg>',
  'utf8',
);

const FAVICON_DATA_URL = `data:image/svg+xml;base64,${FAVICON.toString('base64')}`;

export function faviconReply(): Reply {
  return {
    status: 200,
    resource: 'web',
    body: { kind: 'bytes', data: FAVICON, contentType: 'image/svg+xml' },
    headers: { ...SECURITY_HEADERS, 'Cache-Control': 'private, max-age=86400' },
  };
}

/** Security headers for a reply built elsewhere (package icons). */
export function withPageHeaders(reply: Reply): Reply {
  return { ...reply, headers: { ...SECURITY_HEADERS, ...reply.headers } };
}

export function renderError(shell: Shell, status: number, message: string): string {
  const title = status === 404 ? 'Not found' : status === 400 ? 'Bad request' : 'Error';
  return renderPage(
    { ...shell, title },
    html`<h1>${title}</h1><p>${message}</p><p><a href="${shell.basePath}${WEB_PATHS.home}">Back to the overview</a></p>`,
  );
}

export function renderLogin(shell: Shell, failed: boolean): string {
  return renderPage(
    { ...shell, title: 'Access token', selfContained: true },
    html`<div class="login card">
<h1>Access token</h1>
<p class="muted">This page needs the access token set with <span class="mono">--ui-token</span>. The NuGet feed under
<span class="mono">/v3/</span> does not.</p>
${failed ? html`<p class="badge bad">That token is not right.</p>` : ''}
<form method="post" action="${shell.basePath}${WEB_PATHS.login}">
<input type="password" name="token" aria-label="Access token" autocomplete="current-password" required>
<button type="submit">Open</button>
</form>
</div>`,
  );
}
