// `npm run screenshots`: the README pictures of the web page, taken in a real headless Chromium from a
// real proxy (test/helpers/web-fixture.ts) filled through its own /v3 routes — the showcase packages, the
// real nuget.org packages in /opt/nuget/packages when that folder exists, and one fill that fails.
// Writes docs/images/web-overview.png, web-search.png and web-package.png.

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/helpers/browser.ts';
import { realPackagePaths } from '../test/helpers/fake-upstream.ts';
import { startWebFixture } from '../test/helpers/web-fixture.ts';

const OUT = fileURLToPath(new URL('../docs/images/', import.meta.url));

const real = await realPackagePaths();
const fixture = await startWebFixture({
  realPackagePaths: real,
  // A quota so the storage card shows use against it; sweeps start a second after start.
  env: { NUGET_PROXY_MAX_CACHE_SIZE: '64MiB', NUGET_PROXY_RETENTION_INTERVAL_SECONDS: '1', NUGET_PROXY_LOG_LEVEL: 'warn' },
});
const browser = await launchBrowser({ viewport: { width: 1280, height: 860 } });
try {
  // The real packages go through the proxy too, and a few are fetched again (hits).
  for (const path of real) {
    const m = /\/([^/]+)\/([^/]+)\/[^/]+\.nupkg$/.exec(path);
    if (m?.[1] && m[2]) await fixture.fill(m[1], m[2]);
  }
  for (const [id, version] of [['Contoso.Http.Resilience', '1.1.0'], ['Contoso.Core', '2.2.0'], ['Contoso.Http.Resilience', '1.1.0']] as const) {
    await fixture.fill(id, version);
  }
  // Let the first retention sweep run (it measures use against the quota).
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await mkdir(OUT, { recursive: true });
  const page = await browser.newPage();
  const base = fixture.proxy.url;

  await page.goto(`${base}/`);
  await page.screenshot({ path: `${OUT}web-overview.png` });

  await page.fill('input[name=q]', 'xunit');
  await Promise.all([page.waitForURL(/q=xunit/), page.click('header button[type=submit]')]);
  await page.locator('#packages').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${OUT}web-search.png` });

  await page.goto(`${base}/packages/contoso.http.resilience/1.1.0`);
  await page.screenshot({ path: `${OUT}web-package.png`, fullPage: true });

  const { record } = browser;
  if (record.consoleErrors.length + record.pageErrors.length + record.foreign.length > 0) {
    throw new Error(`the page misbehaved: ${JSON.stringify({ ...record, requests: undefined })}`);
  }
  console.log(`wrote ${OUT}web-overview.png, web-search.png, web-package.png (${real.length} real packages)`);
} finally {
  await browser.close();
  await fixture.dispose();
}
process.exit(0);
