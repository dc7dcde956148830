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

const BROWSER_TITLE = haveBrowser
  ? `the dashboard in headless Chromium (${CHROMIUM})`
  : `the dashboard in headless Chromium: SKIPPED, no ${CHROMIUM} (apt-get install chromium; in CI it must be there)`;
if (!haveBrowser) console.warn(`dashboard.test.ts: browser test skipped, ${CHROMIUM} is absent (apt-get install -y chromium)`);

describe.skipIf(!haveBrowser)(BROWSER_TITLE, () => {
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
    // Anything the CSP blocks, or a script error, fails the test.
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    try {
      await page.goto(`${gw.url}/`);
      await page.waitForSelector('#connection:has-text("enter an API key")');
      await page.fill('#key', KEY);
      await page.click('button[type=submit]');
      await page.waitForSelector('#connection:has-text("live")');
      // A slow answer (ten deltas 100 ms apart): long enough to be seen running.
      const pending = fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'FAKE_SLOW_STREAM dashboard' }] }),
      });
      // It appears as running; selected while it runs, the page says its answer comes at the end.
      const row = page.locator('#processes tbody tr').first();
      await row.locator('td.status-running').waitFor({ timeout: 10_000 });
      const id = await row.locator('td').first().textContent();
      expect(id).toMatch(/^proc_/);
      await row.click();
      await page.waitForSelector('#detail-output:has-text("the answer appears when it completes")', { timeout: 5_000 });
      await page.waitForSelector('#detail-events li:has-text("PROCESS_STARTED")', { timeout: 5_000 });
      // It finishes on the page without another click: status, its answer, tokens and where it ran.
      const res = await pending;
      expect(res.headers.get('x-process-id')).toBe(id);
      const answer = (await res.json()) as { choices: { message: { content: string } }[] };
      const done = page.locator(`#processes tbody tr[data-id="${id}"]`);
      await done.locator('td.status-completed').waitFor({ timeout: 10_000 });
      await page.waitForFunction((text) => document.getElementById('detail-output')?.textContent === text, answer.choices[0]!.message.content, { timeout: 10_000 });
      expect(answer.choices[0]!.message.content).toContain('tok9');
      const cells = await done.locator('td').allTextContents();
      expect(cells).toEqual([id, 'completed', 'sonnet', 'claude-cli/sonnet', expect.stringMatching(/^key_/), expect.stringMatching(/^\d+\.\d\d s$/), '3 / 2', expect.stringMatching(/^\$\d/)]);
      await page.waitForSelector('#detail-events li:has-text("PROCESS_COMPLETE completed")');
      // A failure lands under recent errors.
      const failed = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'FAKE_CRASH dashboard' }] }),
      });
      expect(failed.status).toBeGreaterThanOrEqual(500);
      const failedId = failed.headers.get('x-process-id');
      expect(failedId).toMatch(/^proc_/);
      await page.locator('#errors li', { hasText: failedId! }).waitFor({ timeout: 10_000 });
      // The pool and queue panel: numbers from /ready.
      await page.waitForSelector('#pool dt:has-text("queued")');
      const pool = await page.$$eval('#pool dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
      expect(pool).toMatchObject({ status: 'ready', running: expect.stringMatching(/^\d+$/), queued: expect.stringMatching(/^\d+$/), 'pool total': expect.stringMatching(/^\d+$/) });
      // Usage per key and model.
      await page.locator('#usage tbody tr', { hasText: 'sonnet' }).waitFor({ timeout: 15_000 });
      expect(problems).toEqual([]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });
});
