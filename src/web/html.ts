// HTML built safely by construction: the `html` template escapes every interpolated value unless it is
// already Html (built by this template or by the Markdown renderer). Nothing else in src/web writes markup
// around untrusted text.

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

export type HtmlValue = Html | string | number | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** html`<p>${text}</p>`: text is escaped; Html values and arrays of them are inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Markup produced by a trusted renderer (the sanitized Markdown output). */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}

/** Only http(s) and mailto links leave the page; anything else (javascript:, data:, vbscript:) is dropped. */
export function safeExternalUrl(url: string): string | null {
  const trimmed = url.trim();
  try {
    const u = new URL(trimmed);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'mailto:' ? u.href : null;
  } catch {
    return null;
  }
}
