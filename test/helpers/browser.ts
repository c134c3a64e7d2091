// A real headless Chromium for the web-page tests and screenshots: Debian's /usr/bin/chromium driven by
// playwright-core (never a downloaded browser), a fresh profile per launch, and a record of everything a
// page did: every request it made (anything not aimed at 127.0.0.1 is recorded and aborted, so nothing
// leaves the machine), console errors, uncaught exceptions and dialogs (alert/confirm/prompt).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

export interface BrowserRecord {
  /** Every request any page made, as URLs. */
  readonly requests: string[];
  /** Requests aimed at another host (aborted). */
  readonly foreign: string[];
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  readonly dialogs: string[];
}

export interface TestBrowser {
  readonly context: BrowserContext;
  readonly record: BrowserRecord;
  /** A new tab whose console, errors and dialogs are recorded. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'nuget-proxy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: options.viewport ?? { width: 1280, height: 900 },
    colorScheme: options.colorScheme ?? 'light',
    timeout: 60_000,
  });
  const record: BrowserRecord = { requests: [], foreign: [], consoleErrors: [], pageErrors: [], dialogs: [] };
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    record.requests.push(url);
    const { protocol, hostname } = new URL(url);
    if ((protocol === 'http:' || protocol === 'https:') && hostname === '127.0.0.1') {
      await route.continue();
    } else if (protocol === 'data:') {
      await route.continue();
    } else {
      record.foreign.push(url);
      await route.abort('blockedbyclient');
    }
  });
  const watch = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') record.consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => record.pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('dialog', (dialog) => {
      record.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
  };
  for (const page of context.pages()) watch(page);
  context.on('page', watch);
  return {
    context,
    record,
    async newPage() {
      return context.newPage();
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
