/**
 * The device login app in a real browser: Debian's Chromium driven by playwright-core against the real
 * `npm start` program (a child process with a fresh data directory). Screenshots go to
 * test-output/browser/. Skips, saying why, when Chromium is not installed
 * (`apt-get install -y chromium`; another binary: XSDOT_CHROMIUM=/path/to/chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { newDataDir, removeDataDir, startLoginServer, type LoginServer } from '../node/login-server';

const CHROMIUM = process.env.XSDOT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'test-output/browser');
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a new secret phrase';
const skip = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set XSDOT_CHROMIUM`;

/** A page with bounded waits that records console errors (CSP violations show there). */
async function openPage(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: 10_000 });
}

async function signIn(page: Page, base: string, password: string, username = 'admin'): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
}

/** Runs `body` against a fresh `npm start` (its own data directory) and a headless Chromium; cleans both up. */
async function withServerAndBrowser(body: (server: LoginServer, browser: Browser) => Promise<void>): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const dataDir = newDataDir();
  let server: LoginServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startLoginServer(dataDir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
    await body(server, browser);
  } finally {
    await browser?.close();
    await server?.stop();
    removeDataDir(dataDir);
  }
}

test('browser: setup, login, dashboard, password change revoking another browser, logout, back button', { skip, timeout: 180_000 }, () => withServerAndBrowser(async (server, browser) => {
  const base = server.url;
  const code = server.setupCode;
  assert.ok(code, `the server printed a setup code:\n${server.output()}`);
  const errors: string[] = [];
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await openPage(phone, errors);

  // First boot: any page leads to /setup.
  await page.goto(`${base}/`);
  assert.equal(page.url(), `${base}/setup`);
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).maxWidth), '416px', 'the inline stylesheet passes the CSP');
  await shot(page, '01-setup');
  await page.getByLabel('Setup code').fill(code.toLowerCase());
  await page.getByLabel('New password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('New password again').fill(PASSWORD);
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.waitForURL(`${base}/login?m=setup`);
  await page.getByText('Password saved. Sign in with it.').waitFor();
  await shot(page, '02-login');

  // A wrong password: the same form, a generic message.
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Wrong user name or password.').waitFor();
  await shot(page, '03-login-failed');

  await signIn(page, base, PASSWORD);
  await page.getByText('Signed in as').waitFor();
  assert.match(await page.locator('dl').innerText(), /e2e device[\s\S]*admin/);
  await shot(page, '04-dashboard');

  // A second browser signs in too.
  const laptop = await browser.newContext();
  const other = await openPage(laptop, errors);
  await signIn(other, base, PASSWORD);
  await other.getByText('Signed in as').waitFor();

  // Changing the password on the phone (dashboard → Account → Change password) signs the laptop out, not the phone.
  await page.getByRole('link', { name: 'Account' }).click();
  await page.waitForURL(`${base}/account`);
  await page.getByRole('link', { name: 'Change password' }).click();
  await page.waitForURL(`${base}/settings/password`);
  await shot(page, '05-change-password');
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('New password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.waitForURL(`${base}/?m=pw`);
  await page.getByText('Password changed. Every other session was signed out.').waitFor();
  await shot(page, '06-password-changed');
  await other.reload();
  assert.equal(other.url(), `${base}/login`, 'the other browser is back at the login page');
  await shot(other, '07-other-browser-revoked');

  // Logout; then the back button must not show the dashboard (no-store: it is fetched again).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/login?m=out`);
  await page.getByText('Signed out.').waitFor();
  await page.goBack();
  await page.waitForURL(`${base}/login`);
  assert.equal(await page.getByText('Signed in as').count(), 0, 'no private page after logout');
  await shot(page, '08-back-after-logout');

  await signIn(page, base, NEW_PASSWORD);
  assert.deepEqual(errors.filter((text) => /Content Security Policy|Refused to/i.test(text)), [], 'no CSP violations');
  const log = server.output();
  assert.ok(!log.includes(PASSWORD) && !log.includes(NEW_PASSWORD), 'no password in the server log');
}));

test('browser: an admin names the device and adds a viewer; the viewer signs in and cannot open the settings', { skip, timeout: 180_000 }, () => withServerAndBrowser(async (server, browser) => {
  const base = server.url;
  const errors: string[] = [];
  const page = await openPage(await browser.newContext(), errors);
  await page.goto(`${base}/setup`);
  await page.getByText('Format XXXX-XXXX').waitFor();
  await page.getByLabel('Setup code').fill(server.setupCode ?? '');
  await page.getByLabel('Device name').fill('Greenhouse');
  await page.getByLabel('New password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('New password again').fill(PASSWORD);
  await page.getByRole('button', { name: 'Save password' }).click();
  await page.waitForURL(`${base}/login?m=setup`);
  await signIn(page, base, PASSWORD);
  assert.match(await page.locator('dl').innerText(), /Greenhouse/);

  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('link', { name: 'Settings: device and users' }).click();
  await page.waitForURL(`${base}/settings`);
  // A mistyped confirmation: the name and role come back, the passwords do not.
  await page.getByLabel('New user name').fill('Bob');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByLabel('Initial password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('Initial password again').fill('something else');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('The two new passwords do not match.').waitFor();
  assert.equal(await page.getByLabel('New user name').inputValue(), 'bob');
  assert.equal(await page.getByLabel('Initial password', { exact: true }).inputValue(), '');
  await page.getByLabel('Initial password', { exact: true }).fill(NEW_PASSWORD);
  await page.getByLabel('Initial password again').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.waitForURL(`${base}/settings?m=added`);
  await page.getByRole('link', { name: 'bob' }).waitFor();
  await shot(page, '09-settings-user-added');

  const viewer = await openPage(await browser.newContext(), errors);
  await signIn(viewer, base, NEW_PASSWORD, 'bob');
  await viewer.getByText('Signed in as').waitFor();
  await viewer.getByRole('link', { name: 'Account' }).click();
  await viewer.getByText('viewer', { exact: true }).waitFor();
  assert.equal(await viewer.getByRole('link', { name: /Settings/ }).count(), 0, 'no settings link for a viewer');
  await shot(viewer, '10-viewer-account');
  const denied = await viewer.goto(`${base}/settings`);
  assert.equal(denied?.status(), 403);
  await viewer.getByText('Only an admin can open the settings.').waitFor();
  await shot(viewer, '11-viewer-settings-403');
  assert.deepEqual(errors.filter((text) => /Content Security Policy|Refused to/i.test(text)), [], 'no CSP violations');
}));
