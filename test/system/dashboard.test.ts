// The live dashboard (GET /) in a real browser: headless Chromium (Debian's package) driven by
// playwright-core. A completion the test starts appears on the page, runs and finishes there.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { fetchJson } from '../support/process-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** In CI the browser must be there (.ci/run installs it); elsewhere the test says why it is skipped. */
const haveBrowser = existsSync(CHROMIUM) || Boolean(process.env.CI);
const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');
const KEY = 'dash-key-1';

describe('the dashboard, over plain HTTP', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '0', GATEWAY_API_KEYS: KEY } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves the page and its files, open, with a strict CSP and nothing from elsewhere', async () => {
    for (const [p, type] of [['/', 'text/html'], ['/dashboard/app.js', 'text/javascript'], ['/dashboard/style.css', 'text/css']] as const) {
      const res = await fetch(`${gw.url}${p}`);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await res.text()).not.toMatch(/https?:\/\//);
    }
    expect((await fetchJson(`${gw.url}/dashboard/nothing.js`)).status).toBe(404);
    expect((await fetchJson(`${gw.url}/dashboard/..%2Fpackage.json`)).status).toBe(404);
  });
});

describe.skipIf(!haveBrowser)(`the dashboard in headless Chromium (${CHROMIUM})`, () => {
  let gw: TestGateway;
  let browser: Browser;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '0', GATEWAY_API_KEYS: KEY } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // No network but loopback here: the background services would only fail their lookups.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows a completion the test starts as it runs and finishes, with its answer, the pool and usage', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${gw.url}/`);
      await page.fill('#key', KEY);
      await page.click('button[type=submit]');
      await page.waitForSelector('#connection:has-text("live")');
      // A slow answer (ten deltas 100 ms apart): long enough to be seen running.
      const pending = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'FAKE_SLOW_STREAM dashboard' }] }),
      });
      const row = page.locator('#processes tbody tr').first();
      await row.locator('td.status-running').waitFor({ timeout: 10_000 });
      const id = await row.locator('td').first().textContent();
      expect(id).toMatch(/^proc_/);
      const answer = (await (await pending).json()) as { choices: { message: { content: string } }[] };
      await page.locator(`#processes tbody tr[data-id="${id}"] td.status-completed`).waitFor({ timeout: 10_000 });
      await page.click(`#processes tbody tr[data-id="${id}"]`);
      await page.waitForFunction((text) => document.getElementById('detail-output')?.textContent === text, answer.choices[0]!.message.content);
      expect(await page.locator('#pool').textContent()).toContain('running');
      await page.waitForSelector('#usage tbody tr', { timeout: 15_000 });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
