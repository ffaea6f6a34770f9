/**
 * The login app's pages: small server-rendered HTML (each under 3 KB) linking one stylesheet
 * (app/static/style.css, a static file: cached by the browser, from flash on a device), no script but
 * the dashboard's own (/live/status.js, app/live.ts), usable on a phone. Every interpolated value goes
 * through `escape`.
 * This file holds the layout, the form parts and the pages of signing in; app/settings-pages.ts the
 * account and settings pages (a new group of pages gets a file of its own the same way).
 */
import { CSRF_FIELD, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../modules/auth/index';
import { SETUP_CODE_FORMAT } from '../modules/auth/setup-code';
import { escapeHtml as escape } from '../modules/http/html';
import { STYLESHEET } from './assets';

/** Longest device name, in characters. */
export const MAX_DEVICE_NAME_LENGTH = 32;


/** A message above a form: an error (role=alert) or a notice (role=status). */
export interface Message {
  text: string;
  error?: boolean;
}

export function message(m: Message | undefined): string {
  if (m === undefined) return '';
  return m.error ? `<p class="err" role="alert">${escape(m.text)}</p>` : `<p class="ok" role="status">${escape(m.text)}</p>`;
}

export function layout(device: string, title: string, body: string): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${escape(title)} · ${escape(device)}</title><link rel="stylesheet" href="${STYLESHEET}"></head>` +
    `<body><main><p class="dev">${escape(device)}</p><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

/** A POST form carrying the session's CSRF token; `fields` is HTML made with the helpers below. */
export function form(action: string, token: string, fields: string, button: string): string {
  return `<form class="box" method="post" action="${action}">` +
    `<input type="hidden" name="${CSRF_FIELD}" value="${escape(token)}">${fields}<button type="submit">${button}</button></form>`;
}

/** A labelled, required input; `value` (escaped) is what the user typed before a validation error. */
export function input(name: string, label: string, attributes: string, value?: string): string {
  const shown = value === undefined ? '' : ` value="${escape(value)}"`;
  return `<label for="${name}">${label}</label><input id="${name}" name="${name}"${shown} ${attributes} required>`;
}

export function newPassword(name: string, label: string): string {
  return input(name, label, `type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" maxlength="${MAX_PASSWORD_LENGTH}"`);
}

export const RULE = `<p>${MIN_PASSWORD_LENGTH}–${MAX_PASSWORD_LENGTH} characters; a few words are easy to remember and hard to guess.</p>`;

export interface FormPage {
  device: string;
  /** The CSRF token of the session the page is shown to. */
  token: string;
  message?: Message;
}

/** The device name field (kept as typed after a validation error). */
export function deviceNameInput(value: string): string {
  return input('name', 'Device name', `autocomplete="off" maxlength="${MAX_DEVICE_NAME_LENGTH}"`, value);
}

export function setupPage(page: FormPage & { name: string }): string {
  return layout(page.device, 'Set up the device',
    '<p>Choose the password of the <b>admin</b> user. The setup code is printed on the device console.</p>' +
    message(page.message) +
    form('/setup', page.token,
      input('code', 'Setup code', `placeholder="${SETUP_CODE_FORMAT}" autocomplete="off" autocapitalize="characters" spellcheck="false"`) +
      `<p>Format ${SETUP_CODE_FORMAT}: 8 letters and digits (case and dashes do not matter).</p>` +
      deviceNameInput(page.name) +
      newPassword('password', 'New password') + newPassword('confirm', 'New password again') + RULE,
      'Save password'));
}

export function loginPage(page: FormPage & { username: string }): string {
  return layout(page.device, 'Sign in',
    message(page.message) +
    form('/login', page.token,
      input('username', 'User name', 'autocomplete="username" autocapitalize="none" spellcheck="false"', page.username) +
      input('password', 'Password', 'type="password" autocomplete="current-password"'),
      'Sign in'));
}

export interface Dashboard extends FormPage {
  user: string;
  uptime: string;
  freeMemory: number | undefined;
  expires: string;
}

export function dashboardPage(page: Dashboard): string {
  const memory = page.freeMemory === undefined ? '' : `<dt>Free memory</dt><dd id="free-memory">${escape(page.freeMemory)} bytes</dd>`;
  return layout(page.device, 'Device status',
    message(page.message) +
    `<dl class="box"><dt>Device</dt><dd>${escape(page.device)}</dd><dt>Uptime</dt><dd id="uptime">${escape(page.uptime)}</dd>${memory}` +
    `<dt>Signed in as</dt><dd>${escape(page.user)}</dd><dt>Session ends</dt><dd>${escape(page.expires)}</dd></dl>` +
    '<p><a href="/account">Account</a> · <a href="/update">Update firmware</a></p>' +
    form('/logout', page.token, '', 'Sign out') +
    // Keeps uptime and free memory live (app/live.ts).
    '<script src="/live/status.js" defer></script>');
}

export function passwordPage(page: FormPage): string {
  return layout(page.device, 'Change password',
    message(page.message) +
    form('/settings/password', page.token,
      input('old_password', 'Current password', 'type="password" autocomplete="current-password"') +
      newPassword('password', 'New password') + newPassword('confirm', 'New password again') + RULE +
      '<p>Every other signed-in browser will be signed out.</p>',
      'Change password') +
    '<p><a href="/">Back</a></p>');
}

export function errorPage(device: string, status: number, title: string, reason: string): string {
  return layout(device, `${status} ${title}`, `<p>${escape(reason)}</p><p><a href="/">Home</a></p>`);
}

/** A duration for people: "2 d 3 h", "3 h 4 min", "4 min", "42 s". */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (days > 0) return `${days} d ${hours % 24} h`;
  if (hours > 0) return `${hours} h ${minutes % 60} min`;
  return minutes > 0 ? `${minutes} min` : `${whole} s`;
}
