/**
 * Small helpers the login app's handlers share: form fields, fixed notices, redirects and the log of
 * security events.
 */
import { HttpError, Response, type Request } from '../modules/http/index';
import { passwordProblem } from '../modules/auth/index';
import { runtime, type LogLevel } from '../modules/runtime';
import type { Message } from './pages';

/** Longest line the app logs, in characters (longer ones are cut, ending in "…"). */
export const MAX_LOG_MESSAGE = 200;

/**
 * The fixed notices `?m=` may name. A Map, not an object: a lookup by a client's string would make XS
 * keep that string as a key forever.
 */
const NOTICES: ReadonlyMap<string, string> = new Map([
  ['setup', 'Password saved. Sign in with it.'],
  ['out', 'Signed out.'],
  ['all', 'Signed out everywhere: every session of yours has ended.'],
  ['pw', 'Password changed. Every other session was signed out.'],
  ['name', 'Device name saved.'],
  ['added', 'User added.'],
  ['role', 'Role changed. The user was signed out everywhere.'],
  ['reset', 'Password reset. The user was signed out everywhere.'],
  ['removed', 'User removed and signed out everywhere.'],
]);

/** The form fields `names` of a urlencoded body ('' when missing); 400 when one is repeated. */
export function fields<N extends string>(request: Request, names: readonly N[]): Record<N, string> {
  const out = {} as Record<N, string>;
  for (const name of names) {
    const values = request.form?.getAll(name) ?? [];
    if (values.length > 1) throw new HttpError(400, `The form field "${name}" was sent more than once.`);
    out[name] = values[0] ?? '';
  }
  return out;
}

/** The notice named by `?m=` (fixed texts only: nothing from the URL is shown). */
export function notice(request: Request): Message | undefined {
  const text = NOTICES.get(request.query.get('m') ?? '');
  return text === undefined ? undefined : { text };
}

/** Why a new password (typed twice) is refused, as a sentence for the form, or undefined. */
export function newPasswordProblem(password: string, confirm: string): string | undefined {
  return passwordProblem(password) ?? (password === confirm ? undefined : 'The two new passwords do not match.');
}

export function failure(text: string): Message {
  return { text, error: true };
}

export function redirect(location: string): Response {
  return Response.redirect(location, 303);
}

/**
 * Logs a security event through the host, cut to MAX_LOG_MESSAGE characters. Callers never pass a
 * password, key, token or setup code, and name a user only when it exists (a user-name field often
 * receives a password typed one field too early).
 */
export function logEvent(level: LogLevel, message: string): void {
  runtime().log(level, message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE - 1)}…` : message);
}
