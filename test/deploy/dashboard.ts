// The dashboard JSON as the deploy tests read it: panels, PromQL expressions and small PromQL helpers.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './tools.ts';

export type Json = Record<string, unknown>;
export interface Target extends Json {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
export interface Panel extends Json {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

export const DASHBOARD = join(REPO, 'grafana/dashboards/nuget-proxy.json');
export const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Json & { panels: Panel[]; templating: { list: Json[] } };
export const panels: Panel[] = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
export const queryPanels = panels.filter((p) => p.type !== 'row');
export const exprs: string[] = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
export const variableQueries: string[] = dashboard.templating.list
  .filter((v) => v['type'] === 'query')
  .map((v) => (typeof v['query'] === 'string' ? v['query'] : String((v['query'] as Json)['query'])));

/** Every `nuget_proxy_*` identifier in a PromQL expression. */
export function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\bnuget_proxy_[A-Za-z0-9_]+/g)].map((m) => m[0]);
}

/** The body of each call to `fn(` in an expression (balanced parentheses). */
export function callsOf(expr: string, fn: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`\\b${fn}\\(`, 'g');
  for (const m of expr.matchAll(re)) {
    let depth = 0;
    const start = (m.index ?? 0) + m[0].length - 1;
    for (let i = start; i < expr.length; i++) {
      if (expr[i] === '(') depth++;
      if (expr[i] === ')' && --depth === 0) {
        out.push(expr.slice(start + 1, i));
        break;
      }
    }
  }
  return out;
}

