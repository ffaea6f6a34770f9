/**
 * The account page (every user) and the settings pages (admins: device name and users). Layout and
 * form parts come from app/pages.ts; every interpolated value is escaped.
 */
import { escapeHtml as escape } from '../modules/http/html';
import { deviceNameInput, form, input, layout, message, newPassword, RULE, type FormPage } from './pages';
import { MAX_COUNTED_SESSIONS, MAX_USERNAME_LENGTH, USERNAME_RULE, type Role, type User } from './users';

export interface AccountPage extends FormPage {
  user: string;
  role: Role;
  /** Sessions counted (app/users.ts: started since the last sign-out-everywhere, not signed out, not expired). */
  sessions: number;
}

export function accountPage(page: AccountPage): string {
  const count = page.sessions >= MAX_COUNTED_SESSIONS ? `at least ${page.sessions}` : String(page.sessions);
  return layout(page.device, 'Your account',
    message(page.message) +
    `<dl class="box"><dt>User</dt><dd>${escape(page.user)}</dd><dt>Role</dt><dd>${page.role}</dd>` +
    `<dt>Sessions</dt><dd>${count}</dd></dl>` +
    '<p>Sessions: sign-ins since you last signed out everywhere, this one included, less those signed out ' +
    'or past their 8-hour limit. A browser closed without signing out still counts.</p>' +
    form('/logout', page.token, '<input type="hidden" name="everywhere" value="1">', 'Sign out everywhere') +
    '<p><a href="/settings/password">Change password</a></p>' +
    (page.role === 'admin' ? '<p><a href="/settings">Settings: device and users</a></p>' : '') +
    '<p><a href="/">Back</a></p>');
}

function roleSelect(selected: Role): string {
  const option = (role: Role) => `<option value="${role}"${role === selected ? ' selected' : ''}>${role}</option>`;
  return `<label for="role">Role</label><select id="role" name="role">${option('viewer')}${option('admin')}</select>`;
}

function action(name: string, user?: string): string {
  const target = user === undefined ? '' : `<input type="hidden" name="user" value="${escape(user)}">`;
  return `<input type="hidden" name="action" value="${name}">${target}`;
}

export interface SettingsPage extends FormPage {
  users: readonly User[];
  maxUsers: number;
  /** What the admin typed before a validation error (never the passwords). */
  typed: { name: string; username: string; role: Role };
}

export function settingsPage(page: SettingsPage): string {
  let list = '';
  for (const user of page.users) list += `<li><a href="/settings?user=${escape(user.name)}">${escape(user.name)}</a> (${user.role})</li>`;
  return layout(page.device, 'Settings',
    message(page.message) +
    form('/settings', page.token, action('name') + deviceNameInput(page.typed.name), 'Save device name') +
    `<h2>Users (${page.users.length} of at most ${page.maxUsers})</h2><ul class="box">${list}</ul>` +
    form('/settings', page.token, action('add') +
      input('username', 'New user name', `autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="${MAX_USERNAME_LENGTH}"`, page.typed.username) +
      `<p>${USERNAME_RULE}.</p>` + roleSelect(page.typed.role) +
      newPassword('password', 'Initial password') + newPassword('confirm', 'Initial password again') + RULE,
      'Add user') +
    '<p><a href="/account">Back</a></p>');
}

export interface UserPage extends FormPage {
  user: User;
  sessions: number;
}

export function userPage(page: UserPage): string {
  const name = page.user.name;
  return layout(page.device, `User ${name}`,
    message(page.message) +
    `<p>Role: ${page.user.role}. Sessions: ${page.sessions}. Each change below signs ${escape(name)} out everywhere.</p>` +
    form('/settings', page.token, action('role', name) + roleSelect(page.user.role), 'Change role') +
    form('/settings', page.token, action('password', name) +
      newPassword('password', 'New password') + newPassword('confirm', 'New password again') + RULE, 'Reset password') +
    form('/settings', page.token, action('remove', name), 'Remove user') +
    '<p><a href="/settings">Back</a></p>');
}
