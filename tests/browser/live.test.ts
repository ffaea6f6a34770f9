/**
 * The dashboard's live status in Chromium (playwright-core) against the real `npm start` program: after
 * sign-in the uptime on the page changes by itself (Server-Sent Events, app/live.ts), with no CSP
 * violation (the dashboard's script is its own file, allowed by `script-src 'self'`), and the stream is
 * the page's, ended when the browser leaves. Skips, saying why, without Chromium (see login.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { newDataDir, removeDataDir, startLoginServer, type LoginServer } from '../node/login-server';

const CHROMIUM = process.env.XSDOT_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set XSDOT_CHROMIUM`;

test('browser: the dashboard\'s uptime updates live over Server-Sent Events', { skip, timeout: 120_000 }, async () => {
  const dataDir = newDataDir();
  let server: LoginServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startLoginServer(dataDir);
    const base = server.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'], timeout: 30_000 });
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(10_000);
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${base}/setup`);
    await page.getByLabel('Setup code').fill(server.setupCode ?? '');
    await page.getByLabel('New password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('New password again').fill(PASSWORD);
    await page.getByRole('button', { name: 'Save password' }).click();
    await page.waitForURL(`${base}/login?m=setup`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    const uptime = page.locator('#uptime');
    const rendered = await uptime.innerText();
    // The first event comes at once, then one every 2 s: the text moves within a few seconds, no reload.
    await page.waitForFunction((before) => document.getElementById('uptime')?.textContent !== before, rendered, { timeout: 8_000 });
    const first = await uptime.innerText();
    await page.waitForFunction((before) => document.getElementById('uptime')?.textContent !== before, first, { timeout: 8_000 });
    assert.match(await uptime.innerText(), /^\d+ (s|min)/);
    assert.equal(page.url(), `${base}/`, 'no navigation happened');
    assert.deepEqual(errors.filter((text) => /Content Security Policy|Refused to/i.test(text)), [], 'no CSP violations');
  } finally {
    await browser?.close();
    await server?.stop();
    removeDataDir(dataDir);
  }
});
