// One cached package: its description and readme (rendered safely), dependencies per target framework,
// license, the versions the cache holds, and how to use it through this proxy.

import type { PackageView, VersionRow } from '../resources/web-page.ts';
import { formatAgo, formatBytes, formatTime } from './format.ts';
import { html, safeExternalUrl, type Html } from './html.ts';
import { renderPage } from './layout.ts';
import { renderReadme } from './markdown.ts';
import { iconHref, packageHref, WEB_PATHS } from './paths.ts';
import { dotnetAddSnippet, packageReferenceSnippet, renderFeedSnippets } from './snippets.ts';

function externalLink(url: string, text?: string): Html {
  const safe = safeExternalUrl(url);
  if (!safe) return html`<span class="mono">${url}</span>`;
  return html`<a href="${safe}" rel="nofollow noopener noreferrer">${text ?? safe}</a>`;
}

function license(view: PackageView): Html {
  const n = view.nuspec;
  if (!n) return html`<span class="muted">unknown</span>`;
  if (n.licenseExpression) {
    return html`<span class="mono">${n.licenseExpression}</span>`;
  }
  if (n.licenseFile) return html`<a href="#license">${n.licenseFile}</a> <span class="muted">(in the package)</span>`;
  if (n.licenseUrl) return externalLink(n.licenseUrl);
  return html`<span class="muted">not stated</span>`;
}

function versionsTable(view: PackageView, basePath: string, nowMs: number): Html {
  const row = (v: VersionRow) => html`<tr${v.lowerVersion === view.selected.lowerVersion ? html` class="selected"` : ''}>
<td><a href="${packageHref(basePath, view.lowerId, v.lowerVersion)}" class="mono">${v.lowerVersion}</a>${v.prerelease ? html` <span class="badge none">pre</span>` : ''}${
    v.pinned ? html` <span class="badge ok">pinned</span>` : ''
  }${v.policy ? html` <span class="badge ${v.policy.blocked ? 'bad' : 'ok'}">${v.policy.label}</span>` : ''}</td>
<td class="num">${formatBytes(v.nupkgBytes)}</td>
<td class="small">${v.lastServedMs === null ? html`<span class="muted">—</span>` : formatAgo(v.lastServedMs, nowMs)}</td></tr>`;
  return html`<table class="list" id="versions"><thead><tr><th>Version</th><th class="num">.nupkg</th><th>Last served</th></tr></thead><tbody>${view.versions.map(row)}</tbody></table>`;
}

function dependencies(view: PackageView, basePath: string): Html {
  if (view.dependencyGroups.length === 0) return html`<p class="muted">No dependencies.</p>`;
  return html`<div class="deps">${view.dependencyGroups.map(
    (g) => html`<h4>${g.targetFramework || 'All frameworks'}</h4>${
      g.dependencies.length === 0
        ? html`<p class="small muted">No dependencies.</p>`
        : html`<ul>${g.dependencies.map(
            (d) => html`<li>${d.heldLowerId ? html`<a href="${packageHref(basePath, d.heldLowerId)}">${d.id}</a>` : d.id} <span class="mono small">${d.range || '(any)'}</span></li>`,
          )}</ul>`
    }`,
  )}</div>`;
}

export interface PackagePageInput {
  readonly basePath: string;
  readonly publicBase: string;
  readonly view: PackageView;
  readonly nowMs: number;
  readonly tokenGate: boolean;
}

export function renderPackage(input: PackagePageInput): string {
  const { view, basePath, nowMs } = input;
  const n = view.nuspec;
  const v = view.selected;
  const title = n?.title && n.title !== view.id ? n.title : '';
  const tags = (n?.tags ?? '').split(/[\s,]+/).filter((t) => t.length > 0);
  const download = `${basePath}/v3/flatcontainer/${encodeURIComponent(view.lowerId)}/${encodeURIComponent(v.lowerVersion)}/${encodeURIComponent(view.lowerId)}.${encodeURIComponent(v.lowerVersion)}.nupkg`;
  const body = html`<p class="small"><a href="${basePath}${WEB_PATHS.home}#packages">Packages</a> / ${view.id}</p>
<div class="pkg-head">${view.hasIcon ? html`<img src="${iconHref(basePath, view.lowerId, v.lowerVersion)}" alt="">` : html`<div class="noicon"></div>`}
<div><h1 id="package-id">${view.id} <span class="muted mono">${view.fullVersion}</span></h1>
${title ? html`<div id="package-title"><strong>${title}</strong></div>` : ''}
${n?.authors ? html`<div class="small">by <span id="package-authors">${n.authors}</span></div>` : ''}
${tags.length > 0 ? html`<div class="small muted" id="package-tags">${tags.map((t, i) => html`${i > 0 ? ' · ' : ''}${t}`)}</div>` : ''}
</div></div>
<div class="layout">
<div>
<h2>Description</h2>
<p id="package-description">${n?.description || html`<span class="muted">The cache holds no nuspec for this version.</span>`}</p>
<h2>Readme</h2>
${view.readme === null ? html`<p class="muted">This version ships no readme.</p>` : html`<div class="readme" id="readme">${renderReadme(view.readme)}</div>`}
<h2>Dependencies</h2>
${dependencies(view, basePath)}
${view.licenseText !== null ? html`<h2 id="license">License</h2><pre class="snippet readme-text">${view.licenseText}</pre>` : ''}
</div>
<aside>
<h2>Use it</h2>
<pre class="snippet" id="package-reference">${packageReferenceSnippet(view.id, view.fullVersion)}</pre>
<pre class="snippet">${dotnetAddSnippet(view.id, view.fullVersion)}</pre>
${renderFeedSnippets(input.publicBase)}
<h2>This version</h2>
<dl class="facts">
<dt>License</dt><dd id="package-license">${license(view)}</dd>
${n?.projectUrl ? html`<dt>Project</dt><dd>${externalLink(n.projectUrl)}</dd>` : ''}
<dt>Package</dt><dd><a href="${download}">${formatBytes(v.nupkgBytes)} .nupkg</a></dd>
<dt>In cache</dt><dd>${formatBytes(v.bytes)} with its other files</dd>
<dt>Filled</dt><dd>${formatTime(v.filledAtMs)}</dd>
<dt>Last served</dt><dd>${v.lastServedMs === null ? html`<span class="muted">not since it was filled</span>` : html`${formatAgo(v.lastServedMs, nowMs)} <span class="muted small">(${formatTime(v.lastServedMs)})</span>`}</dd>
<dt>Upstream</dt><dd>${v.upstream ?? html`<span class="muted">—</span>`}</dd>
<dt>Policy</dt><dd>${v.policy ? html`<span class="badge ${v.policy.blocked ? 'bad' : 'ok'}">${v.policy.label}</span>` : html`<span class="muted">none</span>`}</dd>
<dt>Retention</dt><dd>${v.pinned ? 'pinned: never evicted' : 'evictable'}</dd>
${view.sha512 ? html`<dt>SHA-512</dt><dd class="mono small">${view.sha512}</dd>` : ''}
</dl>
<h2>Versions in the cache</h2>
${versionsTable(view, basePath, nowMs)}
</aside>
</div>`;
  return renderPage({ basePath, title: `${view.id} ${view.fullVersion}`, tokenGate: input.tokenGate }, body);
}
