// The web page in a real headless Chromium (Debian's, driven by playwright-core): pages load with their
// stylesheet under the strict CSP, search and paging work through the page's own form and links, script
// injected through a nuspec or a readme stays inert, nothing is fetched from another host, no console
// errors, and the access-token gate works with a real login form and cookie.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.ts';
import { startProxy, type TestProxy } from '../helpers/proxy.ts';
import { FAILING_PACKAGE, pagingPackages, startWebFixture, type WebFixture } from '../helpers/web-fixture.ts';

/**
 * The few browser globals the page-side callbacks use. The project compiles without the DOM library (it is
 * a server), so callbacks reach them through globalThis with these types.
 */
interface DomElement {
  readonly tagName: string;
  readonly attributes: ArrayLike<{ readonly name: string }>;
  getAttribute(name: string): string | null;
}
interface Dom {
  readonly document: { querySelectorAll(selector: string): ArrayLike<DomElement>; readonly images: ArrayLike<{ readonly src: string }> };
  getComputedStyle(element: unknown): { readonly borderTopLeftRadius: string };
  readonly __xss?: unknown;
}

/** What a page could have done if injected markup had run: handlers, scripts, frames, foreign links. */
async function injectionTraces(page: Page) {
  return page.evaluate(() => {
    const { document, __xss } = globalThis as unknown as Dom;
    const handlers: string[] = [];
    for (const el of Array.from(document.querySelectorAll('*'))) {
      for (const attr of Array.from(el.attributes)) if (/^on/i.test(attr.name)) handlers.push(`${el.tagName} ${attr.name}`);
    }
    return {
      xss: __xss ?? null,
      handlers,
      scripts: document.querySelectorAll('script').length,
      frames: document.querySelectorAll('iframe, frame, object, embed').length,
      javascriptLinks: Array.from(document.querySelectorAll('a[href]')).filter((a) => /^\s*(javascript|data|vbscript):/i.test(a.getAttribute('href') ?? '')).length,
      images: Array.from(document.images).map((img) => img.src),
      styleAttributes: document.querySelectorAll('[style]').length,
    };
  });
}

/** The border radius the stylesheet gives an element: proof that the stylesheet loaded. */
function radiusOf(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((el) => (globalThis as unknown as Dom).getComputedStyle(el).borderTopLeftRadius);
}

function rowsOf(page: Page) {
  return page.locator('#package-list tbody tr');
}

describe('web page in Chromium', () => {
  let fx: WebFixture;
  let browser: TestBrowser;
  let base: string;

  before(async () => {
    fx = await startWebFixture({ packages: pagingPackages(55) });
    base = fx.proxy.url;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await fx?.dispose();
  });

  it('loads the overview with its stylesheet and every status card', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'Overview · nuget-proxy');
    for (const id of ['#upstreams', '#redis', '#storage', '#traffic', '#failures', '#nuget-config', '#package-list']) {
      assert.ok(await page.locator(id).isVisible(), `${id} is visible`);
    }
    // The stylesheet loaded under the CSP: cards have their border radius.
    assert.equal(await radiusOf(page, '#storage'), '10px');
    assert.match(await page.locator('#failures').innerText(), new RegExp(`${FAILING_PACKAGE.id.toLowerCase()}[\\s\\S]*UPSTREAM_STATUS`));
    assert.match(await page.locator('#nuget-config').innerText(), new RegExp(`value="${base.replace(/[.]/g, '\\.')}/v3/index\\.json"`));
    assert.equal(await rowsOf(page).count(), 50);
    await page.close();
  });

  it('searches through the header form and opens a result', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.fill('header input[name=q]', 'resilience');
    await Promise.all([page.waitForURL(/[?&]q=resilience/), page.press('header input[name=q]', 'Enter')]);
    assert.equal(await rowsOf(page).count(), 1);
    assert.equal(await page.inputValue('header input[name=q]'), 'resilience');
    await Promise.all([page.waitForURL(/\/packages\/contoso\.http\.resilience$/), page.click('#package-list a:text("Contoso.Http.Resilience")')]);
    assert.match(await page.locator('#package-id').innerText(), /^Contoso\.Http\.Resilience\s+1\.1\.0$/);
    assert.ok(await page.locator('#readme table').isVisible(), 'the readme table is rendered');
    assert.ok(await page.locator('.deps h4:text(".NETFramework4.7.2")').isVisible());
    // The icon comes from the cache, same origin.
    const icon = page.locator('.pkg-head img');
    assert.ok(await icon.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth === 16));
    // Another version through the versions table.
    await Promise.all([page.waitForURL(/1\.2\.0-preview\.1$/), page.click('#versions a:text("1.2.0-preview.1")')]);
    assert.match(await page.locator('#package-id').innerText(), /1\.2\.0-preview\.1/);
    await page.close();
  });

  it('pages through the list and sorts it', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    const firstPage = await rowsOf(page).locator('td:first-child a').allInnerTexts();
    await Promise.all([page.waitForURL(/page=2/), page.locator('a[rel=next]').first().click()]);
    assert.match(await page.locator('.pager').first().innerText(), /page 2 of 2/);
    const secondPage = await rowsOf(page).locator('td:first-child a').allInnerTexts();
    assert.equal(firstPage.length + secondPage.length, 60);
    assert.equal(new Set([...firstPage, ...secondPage]).size, 60);
    assert.equal(await page.locator('.pager .disabled:text("next →")').count(), 2);
    await Promise.all([page.waitForURL((url) => !url.search.includes('page=')), page.locator('a[rel=prev]').first().click()]);
    assert.deepEqual(await rowsOf(page).locator('td:first-child a').allInnerTexts(), firstPage);
    await Promise.all([page.waitForURL(/sort=size/), page.click('.sorts a:text("size")')]);
    assert.equal(await page.locator('.sorts a.current').first().innerText(), 'size');
    await page.close();
  });

  it('keeps script from a nuspec and a readme inert', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${base}/packages/xss.payload`);
    assert.equal(res?.status(), 200);
    await page.waitForLoadState('load');
    // Hover and focus everything a handler could hang on, then look for traces.
    for (const el of await page.locator('#package-title, #package-authors, #package-tags, #package-description, #readme *').all()) {
      await el.hover({ trial: false, timeout: 2000 }).catch(() => undefined);
    }
    const traces = await injectionTraces(page);
    assert.deepEqual(traces, { xss: null, handlers: [], scripts: 0, frames: 0, javascriptLinks: 0, images: [], styleAttributes: 0 });
    // The payloads are shown as text, not dropped silently.
    assert.match(await page.locator('#package-title').innerText(), /<script>window\.__xss='text'<\/script>/);
    assert.match(await page.locator('#readme').innerText(), /<img src="x" onerror=/);
    assert.match(await page.locator('#readme').innerText(), /\[image: remote image\]/);
    assert.equal(await page.locator('#readme a.image-link').getAttribute('href'), 'https://remote-image.invalid/track.png');
    // The project URL was javascript: — it is not a link.
    assert.equal(await page.locator('a:text("javascript:")').count(), 0);
    // And the same package in the list and in search.
    await page.goto(`${base}/?q=xss`);
    assert.deepEqual(await injectionTraces(page), { xss: null, handlers: [], scripts: 0, frames: 0, javascriptLinks: 0, images: [], styleAttributes: 0 });
    assert.equal(await rowsOf(page).count(), 1);
    await page.close();
  });

  it('fetched nothing from another host, logged no console error and opened no dialog', () => {
    const { record } = browser;
    assert.ok(record.requests.length > 10, `${record.requests.length} requests recorded`);
    assert.deepEqual(record.foreign, []);
    assert.ok(record.requests.every((url) => url.startsWith(`${base}/`)), record.requests.filter((url) => !url.startsWith(`${base}/`)).join(', '));
    assert.deepEqual(record.consoleErrors, []);
    assert.deepEqual(record.pageErrors, []);
    assert.deepEqual(record.dialogs, []);
  });

  describe('with an access token', () => {
    const TOKEN = 'open-sesame-4711';
    let gated: TestProxy;
    let gatedBrowser: TestBrowser;

    before(async () => {
      // A second proxy on the same cache (shared directory), with the gate.
      gated = await startProxy({ NUGET_PROXY_UI_TOKEN: TOKEN, NUGET_PROXY_OFFLINE: 'true' }, { cacheDir: fx.proxy.cacheDir });
      gatedBrowser = await launchBrowser();
    });
    after(async () => {
      await gatedBrowser?.close();
      await gated?.stop();
    });

    it('asks for the token, refuses a wrong one, lets the right one in and logs out', async () => {
      const page = await gatedBrowser.newPage();
      const first = await page.goto(`${gated.url}/packages/contoso.core`);
      assert.equal(first?.status(), 401);
      assert.ok(await page.locator('input[name=token]').isVisible());
      assert.equal(await radiusOf(page, '.login'), '10px', 'inline stylesheet allowed by its hash');
      await page.fill('input[name=token]', 'wrong');
      await Promise.all([page.waitForLoadState('load'), page.click('.login button')]);
      assert.match(await page.locator('.login').innerText(), /That token is not right/);
      await page.fill('input[name=token]', TOKEN);
      await Promise.all([page.waitForURL(`${gated.url}/`), page.click('.login button')]);
      assert.ok(await page.locator('#package-list').isVisible());
      assert.equal(await radiusOf(page, '#storage'), '10px');
      const cookies = await gatedBrowser.context.cookies();
      assert.equal(cookies.length, 1);
      assert.equal(cookies[0]?.httpOnly, true);
      assert.equal(cookies[0]?.sameSite, 'Strict');
      assert.ok(!cookies[0]?.value.includes(TOKEN));
      await page.goto(`${gated.url}/packages/contoso.core`);
      assert.match(await page.locator('#package-id').innerText(), /Contoso\.Core/);
      await Promise.all([page.waitForURL(/\/ui\/login$/), page.click('header a:text("Log out")')]);
      assert.ok(await page.locator('input[name=token]').isVisible());
      assert.equal((await page.goto(`${gated.url}/`))?.status(), 401);
      const { record } = gatedBrowser;
      assert.deepEqual(record.foreign, []);
      assert.deepEqual(record.pageErrors, []);
      assert.deepEqual(record.dialogs, []);
      // The only console errors are the browser reporting the 401 answers themselves.
      assert.deepEqual(record.consoleErrors.filter((e) => !/status of 401/.test(e)), []);
      await page.close();
    });
  });
});
