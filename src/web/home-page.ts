// The overview page at `/`: how this proxy is doing (upstreams and their breakers, Redis, storage against
// the quota, the last hour's traffic, recent fill failures), how to point clients at it, and the
// searchable, paged list of cached packages.

import type { MinuteTraffic, TrafficSummary } from '../activity.ts';
import type { BreakerState } from '../breaker.ts';
import { CATALOG_SORTS, type CatalogSort } from '../resources/catalog.ts';
import type { PackageListView, PolicyState, StatusView, StorageStatus, UpstreamStatus } from '../resources/web-page.ts';
import { countOf, formatAgo, formatBytes, formatPercent, formatTime } from './format.ts';
import { html, type Html } from './html.ts';
import { renderPage } from './layout.ts';
import { listHref, packageHref } from './paths.ts';
import { renderFeedSnippets } from './snippets.ts';

const BREAKER_BADGE: Record<BreakerState, Html> = {
  closed: html`<span class="badge ok">reachable</span>`,
  half_open: html`<span class="badge warn">probing</span>`,
  open: html`<span class="badge bad">breaker open</span>`,
};

function upstreamCard(upstreams: readonly UpstreamStatus[], offline: boolean): Html {
  if (offline) {
    return html`<div class="card" id="upstreams"><h3>Upstream</h3><span class="badge none">offline mode</span>
<p class="small muted">Serves only what the cache holds; never contacts an upstream.</p></div>`;
  }
  return html`<div class="card" id="upstreams"><h3>${upstreams.length === 1 ? 'Upstream' : 'Upstreams'}</h3>${upstreams.map(
    (u) => html`<div class="upstream"><strong>${u.name}</strong> <span class="small muted mono">${u.source}</span>
<ul class="small hosts">${u.hosts.map(
      (h) => html`<li><span class="mono">${h.host}</span> ${BREAKER_BADGE[h.state]}${h.slow ? html` <span class="badge warn">slow</span>` : ''}${
        h.consecutiveFailures > 0 ? html` <span class="muted">${countOf(h.consecutiveFailures, 'failure')} in a row</span>` : ''
      }${h.state !== 'closed' ? html` <span class="muted">back-off ${Math.round(h.backoffMs / 1000)} s</span>` : ''}</li>`,
    )}</ul></div>`,
  )}</div>`;
}

function redisCard(redis: StatusView['redis']): Html {
  const badge =
    redis === 'up'
      ? html`<span class="badge ok">up</span>`
      : redis === 'down'
        ? html`<span class="badge bad">down</span>`
        : html`<span class="badge none">not configured</span>`;
  const note =
    redis === 'none'
      ? 'Metadata lives in memory and in the blob store; set --redis-url to share it between replicas.'
      : redis === 'down'
        ? 'Serving on the local metadata store until Redis answers again.'
        : 'Replicas share metadata through Redis.';
  return html`<div class="card" id="redis"><h3>Redis</h3>${badge}<p class="small muted">${note}</p></div>`;
}

function meter(ratio: number): Html {
  const pct = Math.min(100, Math.max(0, ratio * 100));
  const level = ratio >= 0.95 ? ' bad' : ratio >= 0.8 ? ' warn' : '';
  return html`<div class="meter"><svg width="100%" height="8" preserveAspectRatio="none" viewBox="0 0 100 8" aria-hidden="true"><rect class="used${level}" x="0" y="0" width="${pct.toFixed(2)}" height="8"/></svg></div>`;
}

function storageCard(s: StorageStatus, nowMs: number): Html {
  const used = s.sweep?.usedBytes ?? s.packageBytes;
  return html`<div class="card" id="storage"><h3>Storage</h3>
<div class="big">${formatBytes(used)}</div>
<div class="sub">${s.quotaBytes !== null ? `of ${formatBytes(s.quotaBytes)} quota` : 'no quota (--max-cache-size)'}</div>
${s.quotaBytes !== null ? html`${meter(used / s.quotaBytes)}<div class="small">${formatPercent(used / s.quotaBytes)} used${
    s.sweep ? html` <span class="muted">· last sweep ${formatAgo(s.sweep.atMs, nowMs)}, ${s.sweep.evicted} evicted</span>` : html` <span class="muted">· packages only, no sweep yet</span>`
  }</div>` : ''}
<div class="small">${countOf(s.packages, 'package')}, ${countOf(s.versions, 'version')}${s.evictUnusedDays !== null ? html` · unused for ${s.evictUnusedDays} days are evicted` : ''}</div>
<div class="small muted mono">${s.description}</div>
</div>`;
}

/** A stacked bar per minute: from cache, from upstream, errors, other. Plain SVG, no script. */
function trafficChart(minutes: readonly MinuteTraffic[]): Html {
  const max = Math.max(1, ...minutes.map((m) => m.requests));
  const w = 600 / Math.max(1, minutes.length);
  const bars = minutes.map((m, i) => {
    const x = (i * w).toFixed(1);
    const bw = Math.max(1, w - 1).toFixed(1);
    let y = 60;
    const parts: Html[] = [];
    const other = Math.max(0, m.requests - m.fromCache - m.fromUpstream - m.errors);
    for (const [cls, n] of [['cache', m.fromCache], ['upstream', m.fromUpstream], ['error', m.errors], ['other', other]] as const) {
      if (n <= 0) continue;
      const h = (n / max) * 58;
      y -= h;
      parts.push(html`<rect class="${cls}" x="${x}" y="${y.toFixed(1)}" width="${bw}" height="${h.toFixed(1)}"/>`);
    }
    return parts;
  });
  return html`<svg class="traffic" viewBox="0 0 600 62" preserveAspectRatio="none" role="img" aria-label="Requests per minute, last hour"><line x1="0" y1="60.5" x2="600" y2="60.5"/>${bars}</svg>`;
}

function trafficCard(t: TrafficSummary, instance: string): Html {
  return html`<div class="card" id="traffic"><h3>Last hour · this instance</h3>
<div class="big">${t.hitRatio === null ? '—' : formatPercent(t.hitRatio)}</div>
<div class="sub">served from cache</div>
<div class="small">${countOf(t.requests, 'request')} · ${formatBytes(t.bytes)} sent · ${countOf(t.errors, 'error')}</div>
${trafficChart(t.minutes)}
<div class="small muted legend"><span class="cache">cache</span><span class="upstream">upstream</span><span class="error">5xx</span><span class="other">other</span></div>
<div class="small muted">Counted in this process (${instance}); each replica keeps its own.</div>
</div>`;
}

function failuresSection(status: StatusView, basePath: string): Html {
  if (status.failures.length === 0) {
    return html`<p class="muted" id="failures">No package fill has failed since this process started.</p>`;
  }
  return html`<table class="list" id="failures"><thead><tr><th>When</th><th>Package</th><th>File</th><th>Reason</th></tr></thead><tbody>${status.failures.map(
    (f) => html`<tr><td class="small">${formatAgo(f.atMs, status.nowMs)}<br><span class="muted">${formatTime(f.atMs)}</span></td>
<td><a href="${packageHref(basePath, f.lowerId)}">${f.lowerId}</a> <span class="mono">${f.lowerVersion}</span></td>
<td class="mono">${f.file}</td><td><span class="badge bad">${f.code}</span> <span class="small">${f.reason}</span></td></tr>`,
  )}</tbody></table>`;
}

function policyBadge(p: PolicyState | null): Html {
  if (!p) return html`<span class="muted">—</span>`;
  return html`<span class="badge ${p.blocked ? 'bad' : 'ok'}">${p.label}</span>`;
}

const SORT_LABELS: Record<CatalogSort, string> = { id: 'id', size: 'size', served: 'last served', versions: 'versions' };

function packagesSection(list: PackageListView, basePath: string, nowMs: number): Html {
  const { q, sort, page } = list.query;
  const sorts = CATALOG_SORTS.map((s) =>
    s === sort ? html`<a class="current" href="${listHref(basePath, { q, sort: s, page: 1 })}">${SORT_LABELS[s]}</a>` : html`<a href="${listHref(basePath, { q, sort: s, page: 1 })}">${SORT_LABELS[s]}</a>`,
  );
  const heading = q
    ? html`${countOf(list.total, 'cached package')} ${list.total === 1 ? 'matches' : 'match'} <span class="mono">${q}</span>`
    : html`${countOf(list.total, 'cached package')}`;
  const pager = html`<div class="pager small">${
    page > 1 ? html`<a rel="prev" href="${listHref(basePath, { q, sort, page: page - 1 })}">← previous</a>` : html`<span class="disabled">← previous</span>`
  }<span>page ${page} of ${list.pages}</span>${
    page < list.pages ? html`<a rel="next" href="${listHref(basePath, { q, sort, page: page + 1 })}">next →</a>` : html`<span class="disabled">next →</span>`
  }<span class="sorts muted">sort by ${sorts.map((s, i) => (i === 0 ? s : html` · ${s}`))}</span></div>`;
  const notice = list.ready ? '' : html`<p class="notice">Still reading the store; the list fills in as the listing finishes. Reload in a moment.</p>`;
  const table =
    list.rows.length === 0
      ? html`<p class="muted" id="no-packages">${q ? 'No cached package id contains that text.' : 'The cache holds no package yet.'}</p>`
      : html`<table class="list" id="package-list"><thead><tr><th>Package</th><th class="num">Versions</th><th class="num">Size</th><th>Last served</th><th>Upstream</th><th>Policy</th></tr></thead><tbody>${list.rows.map(
          (r) => html`<tr><td><a href="${packageHref(basePath, r.lowerId)}">${r.id}</a> <span class="mono small">${r.latest}</span><span class="desc">${r.description}</span></td>
<td class="num">${r.versions}</td><td class="num">${formatBytes(r.bytes)}</td>
<td class="small">${r.lastServedMs === null ? html`<span class="muted">not since filled</span>` : formatAgo(r.lastServedMs, nowMs)}</td>
<td class="small">${r.upstream ?? html`<span class="muted">—</span>`}</td><td class="small">${policyBadge(r.policy)}</td></tr>`,
        )}</tbody></table>`;
  return html`<h2 id="packages">${heading}</h2>${notice}${pager}${table}${list.rows.length > 0 ? pager : ''}`;
}

export interface HomeInput {
  readonly basePath: string;
  readonly publicBase: string;
  readonly status: StatusView;
  readonly list: PackageListView;
  readonly tokenGate: boolean;
}

export function renderHome(input: HomeInput): string {
  const { status, list, basePath } = input;
  const body = html`<h1 id="status">Status</h1>
<div class="grid">
${upstreamCard(status.upstreams, status.offline)}
${redisCard(status.redis)}
${storageCard(status.storage, status.nowMs)}
${trafficCard(status.traffic, status.instance)}
</div>
<h2>Recent fill failures</h2>
${failuresSection(status, basePath)}
<h2 id="use">Use this feed</h2>
${renderFeedSnippets(input.publicBase)}
${packagesSection(list, basePath, status.nowMs)}`;
  return renderPage({ basePath, title: list.query.q ? `Search: ${list.query.q}` : 'Overview', q: list.query.q, tokenGate: input.tokenGate }, body);
}
