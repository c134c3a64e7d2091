// The page's one stylesheet, served from the proxy itself (no fonts, no CDN: the page works air-gapped).
// System fonts, light and dark schemes; the URL carries a content hash so browsers may keep it.

import { createHash } from 'node:crypto';

export const STYLE_CSS = `
:root {
  --bg: #f6f7f9; --panel: #ffffff; --text: #1d2330; --muted: #5c6577; --line: #dde1e8; --accent: #2f5bd3;
  --ok: #1d8a4f; --warn: #b86e00; --bad: #c6283b; --bar-cache: #2f5bd3; --bar-up: #e0a12b; --bar-err: #c6283b;
  --code-bg: #eef1f6;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171d; --panel: #1c2029; --text: #e6e9ef; --muted: #9aa3b5; --line: #2e3442; --accent: #7ea2ff;
    --ok: #4cc38a; --warn: #f0b450; --bad: #ff6b7d; --bar-cache: #7ea2ff; --bar-up: #f0b450; --code-bg: #262b36;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
header.top { background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 1; }
h1[id], h2[id] { scroll-margin-top: 70px; }
header.top .inner { max-width: 1180px; margin: 0 auto; padding: 10px 20px; display: flex; gap: 18px; align-items: center; flex-wrap: wrap; }
header.top .brand { font-weight: 700; font-size: 17px; color: var(--text); }
header.top .brand small { font-weight: 400; color: var(--muted); margin-left: 6px; }
header.top nav { display: flex; gap: 14px; }
header.top form { margin-left: auto; display: flex; gap: 6px; }
input[type=search], input[type=password] { font: inherit; padding: 5px 9px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--text); min-width: 240px; }
button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 22px; margin: 4px 0 14px; }
h2 { font-size: 17px; margin: 26px 0 10px; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; overflow-wrap: anywhere; }
.card ul.hosts { list-style: none; padding: 0; margin: 6px 0 0; }
.card ul.hosts li { margin: 2px 0; }
.card .sub { font-size: 13px; color: var(--muted); font-weight: 400; }
.card h3 { margin: 0 0 8px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.big { font-size: 24px; font-weight: 650; line-height: 1.25; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); } .badge.warn { color: var(--warn); } .badge.bad { color: var(--bad); } .badge.none { color: var(--muted); }
.meter { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; margin: 8px 0 4px; }
.meter > svg { display: block; }
.meter rect.used { fill: var(--accent); } .meter rect.used.warn { fill: var(--warn); } .meter rect.used.bad { fill: var(--bad); }
svg.traffic { width: 100%; height: 70px; display: block; margin-top: 6px; }
svg.traffic rect.cache { fill: var(--bar-cache); } svg.traffic rect.upstream { fill: var(--bar-up); }
svg.traffic rect.error { fill: var(--bar-err); } svg.traffic rect.other { fill: var(--muted); opacity: .5; }
svg.traffic line { stroke: var(--line); }
.legend span::before { content: ""; display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin: 0 4px 0 10px; }
.legend .cache::before { background: var(--bar-cache); } .legend .upstream::before { background: var(--bar-up); }
.legend .error::before { background: var(--bar-err); } .legend .other::before { background: var(--muted); }
table.list { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
table.list th, table.list td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: var(--bg); }
table.list td.num, table.list th.num { text-align: right; white-space: nowrap; }
table.list tr:last-child td { border-bottom: 0; }
table.list .desc { color: var(--muted); font-size: 13px; display: block; max-width: 520px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
table.list tr.selected td { background: var(--code-bg); }
.pager { display: flex; gap: 10px; align-items: center; margin: 12px 0; }
.pager .disabled { color: var(--muted); }
.sorts a.current { font-weight: 700; color: var(--text); }
pre.snippet { background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; overflow-x: auto; margin: 6px 0; }
aside pre.snippet { white-space: pre-wrap; overflow-wrap: anywhere; }
.pkg-head { display: flex; gap: 16px; align-items: flex-start; }
.pkg-head img { width: 64px; height: 64px; border-radius: 8px; background: var(--panel); border: 1px solid var(--line); }
.pkg-head .noicon { width: 64px; height: 64px; border-radius: 8px; background: var(--code-bg); border: 1px solid var(--line); }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) 330px; gap: 20px; }
@media (max-width: 900px) { .layout { grid-template-columns: 1fr; } }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.readme { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 6px 22px 14px; overflow-wrap: anywhere; }
.readme pre { background: var(--code-bg); padding: 10px 12px; border-radius: 6px; overflow-x: auto; }
.readme code { background: var(--code-bg); padding: 1px 4px; border-radius: 4px; }
.readme pre code { background: none; padding: 0; }
.readme table { border-collapse: collapse; }
.readme th, .readme td { border: 1px solid var(--line); padding: 4px 8px; }
.readme .align-right { text-align: right; } .readme .align-center { text-align: center; } .readme .align-left { text-align: left; }
.readme blockquote { margin-left: 0; padding-left: 12px; border-left: 3px solid var(--line); color: var(--muted); }
.readme-text { white-space: pre-wrap; }
.deps h4 { margin: 10px 0 4px; font-size: 14px; }
.deps ul { margin: 0; padding-left: 18px; }
.notice { background: var(--panel); border: 1px solid var(--warn); border-radius: 8px; padding: 8px 12px; margin: 10px 0; }
.login { max-width: 420px; margin: 60px auto; }
.login form { display: flex; gap: 8px; margin-top: 12px; }
footer { max-width: 1180px; margin: 0 auto; padding: 0 20px 30px; color: var(--muted); font-size: 12px; }
`;

export const STYLE_HASH = createHash('sha256').update(STYLE_CSS).digest('hex').slice(0, 12);

/** The CSP source that allows exactly this stylesheet inline (the login page). */
export const STYLE_CSP_SOURCE = `'sha256-${createHash('sha256').update(STYLE_CSS).digest('base64')}'`;
