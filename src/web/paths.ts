// The web page's own URLs (under the public base path, so a reverse proxy's prefix is kept). Pure.

import type { CatalogSort } from '../resources/catalog.ts';

export const WEB_PATHS = {
  home: '/',
  packages: '/packages/',
  style: '/ui/style.css',
  favicon: '/ui/favicon.svg',
  icon: '/ui/icon/',
  login: '/ui/login',
  logout: '/ui/logout',
} as const;

/** Where the page's links start: the path of the public base URL ('' at the root). */
export function basePathOf(publicBase: string): string {
  try {
    return new URL(publicBase).pathname.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

export function packageHref(basePath: string, lowerId: string, lowerVersion?: string): string {
  const id = encodeURIComponent(lowerId);
  return `${basePath}${WEB_PATHS.packages}${id}${lowerVersion === undefined ? '' : `/${encodeURIComponent(lowerVersion)}`}`;
}

export function iconHref(basePath: string, lowerId: string, lowerVersion: string): string {
  return `${basePath}${WEB_PATHS.icon}${encodeURIComponent(lowerId)}/${encodeURIComponent(lowerVersion)}`;
}

export interface ListState {
  readonly q: string;
  readonly sort: CatalogSort;
  readonly page: number;
}

/** The home page with a search, sort order and page; defaults are left out of the URL. */
export function listHref(basePath: string, state: ListState): string {
  const params = new URLSearchParams();
  if (state.q) params.set('q', state.q);
  if (state.sort !== 'id') params.set('sort', state.sort);
  if (state.page > 1) params.set('page', String(state.page));
  const query = params.toString();
  return `${basePath}${WEB_PATHS.home}${query ? `?${query}` : ''}#packages`;
}
