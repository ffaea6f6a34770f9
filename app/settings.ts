/**
 * The account page (every signed-in user) and the settings (admins only; a viewer gets 403): the
 * device name and the users — add one with an initial password, change a role, reset a password,
 * remove one. Every change is a POST form to /settings with an `action` field, behind the app's CSRF
 * guard; a role change, password reset or removal ends every session of that user first (fail closed:
 * if the revocation cannot be written, nothing changes). The last admin cannot be removed or made a
 * viewer. After a validation error the form comes back with what was typed (never passwords).
 */
import { HttpError, type Request, type Response } from '../modules/http/index';
import type { PasswordStore } from '../modules/auth/index';
import type { Session, SessionData } from '../modules/session/index';
import { failure, fields, logEvent, newPasswordProblem, notice, redirect } from './forms';
import { MAX_DEVICE_NAME_LENGTH, type Message } from './pages';
import { accountPage, settingsPage, userPage } from './settings-pages';
import { UserError, type Role, type User, type Users } from './users';

/** Store key of the device name (set at setup or in the settings). */
export const DEVICE_NAME_STORE_KEY = 'xsdot.name';

/** Why `name` cannot be the device's name (a sentence for the form), or undefined: 1–32 characters, no control characters. */
export function deviceNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'The device name cannot be empty.';
  if (name.length > MAX_DEVICE_NAME_LENGTH) return `The device name must be at most ${MAX_DEVICE_NAME_LENGTH} characters long.`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 32 || c === 127) return 'The device name cannot contain control characters.';
  }
  return undefined;
}

/** What the login app (main.ts) lends the settings. */
export interface SettingsContext {
  readonly sessions: Session;
  readonly passwords: PasswordStore;
  readonly users: Users;
  /** The device's name now. */
  readonly device: string;
  /** A form page for `session`, the CSRF token and the device's name passed to `render`. */
  formPage(session: SessionData, render: (token: string, device: string) => string, status?: number): Response;
  /** Seconds on the session clock. */
  now(): number;
  /** Saves the device name (throws what the store threw). */
  setDevice(name: string): void;
  /** Ends every session of `user`, then sets the password (main.ts changePassword). */
  changePassword(user: string, password: string): void;
}

function roleOf(text: string): Role | undefined {
  return text === 'admin' || text === 'viewer' ? text : undefined;
}

interface Typed {
  name: string;
  username: string;
  role: Role;
}

// Module functions, not closures per app: made once when the module loads (in flash when preloaded).

/** GET /account of a signed-in `user`. */
export function accountRoute(request: Request, session: SessionData, user: string, ctx: SettingsContext): Response {
  const users = ctx.users;
  const role = users.get(user)?.role ?? 'viewer';
  return ctx.formPage(session, (token, device) => accountPage({ device, token, user, role, sessions: users.sessionCount(user, ctx.now()), message: notice(request) }));
}

function settingsForm(ctx: SettingsContext, session: SessionData, typed?: Typed, message?: Message, status?: number): Response {
  return ctx.formPage(session, (token, device) => settingsPage({
    device, token, message, users: ctx.users.list(), maxUsers: ctx.users.maxUsers,
    typed: typed ?? { name: ctx.device, username: '', role: 'viewer' },
  }), status);
}

function userForm(ctx: SettingsContext, session: SessionData, user: User, message?: Message, status?: number): Response {
  return ctx.formPage(session, (token, device) => userPage({ device, token, user, sessions: ctx.users.sessionCount(user.name, ctx.now()), message }), status);
}

function target(ctx: SettingsContext, name: string): User {
  const user = ctx.users.get(name);
  if (user === undefined) throw new HttpError(404, 'No such user.');
  return user;
}

/** GET and POST /settings of a signed-in `admin` (403 for a viewer). */
export function settingsRoute(request: Request, session: SessionData, admin: string, ctx: SettingsContext): Response {
  const users = ctx.users;
  if (users.get(admin)?.role !== 'admin') throw new HttpError(403, 'Only an admin can open the settings.');
  if (request.method !== 'POST') {
    const name = request.query.get('user');
    if (name === undefined) return settingsForm(ctx, session, undefined, notice(request));
    return userForm(ctx, session, target(ctx, name), notice(request));
  }
  const form = fields(request, ['action', 'user', 'name', 'username', 'role', 'password', 'confirm']);
  const role = roleOf(form.role);
  switch (form.action) {
    case 'name': {
      const name = form.name.trim();
      const problem = deviceNameProblem(name);
      if (problem !== undefined) return settingsForm(ctx, session, { name, username: '', role: 'viewer' }, failure(problem), 400);
      ctx.setDevice(name);
      logEvent('info', `xsdot: ${admin} renamed the device`);
      return redirect('/settings?m=name');
    }
    case 'add': {
      const username = form.username.trim().toLowerCase();
      const typed: Typed = { name: ctx.device, username, role: role ?? 'viewer' };
      try {
        users.checkNew(username);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return settingsForm(ctx, session, typed, failure(error.message), error.status);
      }
      const problem = (role === undefined ? 'Choose a role: admin or viewer.' : undefined) ?? newPasswordProblem(form.password, form.confirm);
      if (problem !== undefined) return settingsForm(ctx, session, typed, failure(problem), 400);
      // Tokens of an earlier user of that name (removed, or lost with a corrupt table) stay dead; then
      // the password: a crash before the table write leaves an unused record, never a user without one.
      ctx.sessions.revokeAll(username);
      ctx.passwords.set(username, form.password);
      users.add(username, role as Role);
      logEvent('info', `xsdot: ${admin} added user "${username}" (${role})`);
      return redirect('/settings?m=added');
    }
    case 'role':
    case 'password':
    case 'remove':
      return change(ctx, session, admin, target(ctx, form.user), form.action, role, form);
    default:
      throw new HttpError(400, 'Unknown settings action.');
  }
}

/** A change to an existing user that ends every session of that user. */
function change(ctx: SettingsContext, session: SessionData, admin: string, user: User, action: 'role' | 'password' | 'remove',
  role: Role | undefined, form: { password: string; confirm: string }): Response {
  const { users, sessions } = ctx;
  const name = user.name;
  const revoke = () => sessions.revokeAll(name);
  try {
    if (action === 'role') {
      if (role === undefined) return userForm(ctx, session, user, failure('Choose a role: admin or viewer.'), 400);
      if (role === user.role) return redirect(`/settings?user=${name}`);
      users.setRole(name, role, revoke);
    } else if (action === 'password') {
      const problem = newPasswordProblem(form.password, form.confirm);
      if (problem !== undefined) return userForm(ctx, session, user, failure(problem), 400);
      ctx.changePassword(name, form.password);
      users.sessionsEnded(name);
    } else {
      users.remove(name, revoke);
      ctx.passwords.delete(name);
    }
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return userForm(ctx, session, user, failure(error.message), error.status);
  }
  logEvent('info', `xsdot: ${admin} ${action === 'role' ? `made "${name}" ${role}` : action === 'password' ? `reset the password of "${name}"` : `removed "${name}"`}; their sessions were revoked`);
  // Changing oneself ends this session too.
  if (name === admin) return redirect('/login');
  return redirect(action === 'remove' ? '/settings?m=removed' : `/settings?user=${name}&m=${action === 'role' ? 'role' : 'reset'}`);
}
