/**
 * The login app's user table: who may sign in, with which role, and how many sessions each user has
 * started — one record in the host key store, read once at start and kept in memory (a Map of at most
 * `maxUsers` entries), so a request looks a user up without parsing anything. Passwords are not here:
 * they stay in PasswordStore's `pw.<user>` records (PBKDF2, modules/auth/password.ts).
 *
 * Record `xsdot.users`: `v1|<name>=<role>:<exp>,<exp>|…` — role `a` (admin) or `v` (viewer), then the
 * absolute expiries (seconds on the session clock) of the sessions the user started since their last
 * "sign out everywhere". Each change writes the whole record once (one atomic store write) and memory
 * follows only what the store accepted. A record that is present but not exactly well-formed fails
 * closed: nobody is a user (no session or password is accepted) until setup runs again with the setup
 * code from the device console. Size: under 1,700 bytes at 16 users (NVS values < 4,000).
 *
 * Session counts: stateless signed cookies have no server-side list, so the count is the sessions
 * *started* (logins, a password change's renewed session) since the user's last sign-out-everywhere,
 * password or role change, minus those signed out, minus those past their absolute expiry. A browser
 * closed without signing out, or a session ended by its idle timeout, still counts until that expiry;
 * at most MAX_COUNTED_SESSIONS are kept (the oldest is dropped: the page then says "at least").
 */
import { runtime } from '../modules/runtime';

export type Role = 'admin' | 'viewer';

/** Store key of the table (NVS keys ≤ 15 bytes). */
export const USERS_STORE_KEY = 'xsdot.users';
/** Default table size: users an admin may create, the first admin included. */
export const DEFAULT_MAX_USERS = 8;
/** Largest `maxUsers`: the revocation record keeps generations for 16 users (modules/session/revocation.ts). */
export const MAX_USERS_LIMIT = 16;
/** Session expiries kept per user. */
export const MAX_COUNTED_SESSIONS = 8;
/** Longest user name: `pw.` + 12 is the 15-byte NVS key limit. */
export const MAX_USERNAME_LENGTH = 12;
/** The user-name rule, as shown on forms. */
export const USERNAME_RULE = `1–${MAX_USERNAME_LENGTH} characters: a–z, 0–9, dot, dash, underscore`;

export interface User {
  readonly name: string;
  readonly role: Role;
  /** Absolute expiries (session clock, seconds) of the sessions counted, oldest first. */
  readonly sessions: readonly number[];
}

/** A change the table refuses; `message` is written for the admin making it. */
export class UserError extends Error {
  override readonly name = 'UserError';
  /** HTTP status for the page that reports it: 400 (bad input), 409 (conflicts with the table). */
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** True for 1–12 characters of a-z 0-9 . _ - (the names PasswordStore can key). No RegExp: see password.ts. */
export function validUsername(name: string): boolean {
  if (name.length < 1 || name.length > MAX_USERNAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 45)) return false;
  }
  return true;
}

export interface UsersOptions {
  /** Most users (default 8, 1–16). */
  maxUsers?: number;
  /**
   * The name of the one admin of a device set up before the table existed (its password record exists,
   * the table does not): it becomes the table's admin. Undefined: a missing table is an empty one.
   */
  legacyAdmin?: string;
  /**
   * False when the session clock counts from this boot (no trusted wall clock): counted sessions of an
   * earlier boot are dropped on reading, as their tokens died with that boot (default true).
   */
  sessionsSurviveReboot?: boolean;
}

export class Users {
  readonly maxUsers: number;
  /** True when the stored record was unreadable (the table then starts empty: fail closed). */
  readonly corrupt: boolean;
  #users: ReadonlyMap<string, User>;

  /** Reads the record once. */
  constructor(options: UsersOptions = {}) {
    this.maxUsers = options.maxUsers ?? DEFAULT_MAX_USERS;
    if (!Number.isInteger(this.maxUsers) || this.maxUsers < 1 || this.maxUsers > MAX_USERS_LIMIT) {
      throw new RangeError(`xsdot: maxUsers must be an integer from 1 to ${MAX_USERS_LIMIT}`);
    }
    const text = runtime().store.get(USERS_STORE_KEY);
    const parsed = text === undefined ? undefined : parseRecord(text);
    this.corrupt = text !== undefined && parsed === undefined;
    if (parsed !== undefined && options.sessionsSurviveReboot === false) {
      for (const [name, user] of parsed) parsed.set(name, { name, role: user.role, sessions: [] });
    }
    if (parsed !== undefined) this.#users = parsed;
    else if (text === undefined && options.legacyAdmin !== undefined) this.#users = new Map([[options.legacyAdmin, { name: options.legacyAdmin, role: 'admin', sessions: [] }]]);
    else this.#users = new Map();
  }

  /** The user named `name` (undefined for anyone else). A Map lookup: cheap enough for every request. */
  get(name: string): User | undefined {
    return this.#users.get(name);
  }

  /** Every user, in the order they were added. */
  list(): User[] {
    return [...this.#users.values()];
  }

  get size(): number {
    return this.#users.size;
  }

  /** True when at least one admin exists (else the device needs setup). */
  get hasAdmin(): boolean {
    for (const user of this.#users.values()) if (user.role === 'admin') return true;
    return false;
  }

  /** Throws UserError when `name` cannot be added (bad name, taken, table full); writes nothing. */
  checkNew(name: string): void {
    if (!validUsername(name)) throw new UserError(`A user name is ${USERNAME_RULE}.`, 400);
    if (this.#users.has(name)) throw new UserError(`The user "${name}" exists already.`, 409);
    if (this.#users.size >= this.maxUsers) throw new UserError(`The device keeps at most ${this.maxUsers} users. Remove one first.`, 409);
  }

  /** Adds `name` with `role` and no sessions. Throws UserError (see checkNew) or what the store threw. */
  add(name: string, role: Role): void {
    this.checkNew(name);
    this.#commit(name, { name, role, sessions: [] });
  }

  /**
   * Sets `name`'s role and stops counting its sessions. `before` runs after the checks and before the
   * write (the caller revokes the user's sessions there: if that throws, nothing changes). Throws
   * UserError for an unknown user or when no admin would be left.
   */
  setRole(name: string, role: Role, before: () => void): void {
    const user = this.#existing(name);
    if (role !== 'admin') this.#keepAnAdmin(user, 'made a viewer');
    before();
    this.#commit(name, { name, role, sessions: [] });
  }

  /** Removes `name`; `before` as in setRole. Throws UserError for an unknown user or the last admin. */
  remove(name: string, before: () => void): void {
    this.#keepAnAdmin(this.#existing(name), 'removed');
    before();
    this.#commit(name, undefined);
  }

  /** Sessions of `name` still counted at `now` (see the module doc). */
  sessionCount(name: string, now: number): number {
    let count = 0;
    for (const exp of this.#users.get(name)?.sessions ?? []) if (exp > now) count++;
    return count;
  }

  /** Counts a session of `name` that lasts until `exp`; nothing for an unknown user. */
  sessionStarted(name: string, exp: number, now: number): void {
    const user = this.#users.get(name);
    if (user === undefined) return;
    const sessions = user.sessions.filter((at) => at > now);
    sessions.push(exp);
    if (sessions.length > MAX_COUNTED_SESSIONS) sessions.shift();
    this.#commit(name, { name, role: user.role, sessions });
  }

  /** Stops counting one session of `name` that lasts until `exp` (a sign-out); nothing when none is counted. */
  sessionEnded(name: string, exp: number, now: number): void {
    const user = this.#users.get(name);
    const at = user?.sessions.indexOf(exp) ?? -1;
    if (user === undefined || at < 0) return;
    const sessions = user.sessions.filter((end, i) => i !== at && end > now);
    this.#commit(name, { name, role: user.role, sessions });
  }

  /**
   * Stops counting every session of `name` (sign out everywhere, a password change), except the one
   * lasting until `kept` when given (the session that changed its own password goes on).
   */
  sessionsEnded(name: string, kept?: number): void {
    const user = this.#users.get(name);
    if (user !== undefined) this.#commit(name, { name, role: user.role, sessions: kept === undefined ? [] : [kept] });
  }

  /** Starts a table with one admin, `name` (setup, also after a corrupt record). */
  reset(name: string): void {
    const next = new Map([[name, { name, role: 'admin' as Role, sessions: [] }]]);
    runtime().store.set(USERS_STORE_KEY, formatRecord(next));
    this.#users = next;
  }

  #existing(name: string): User {
    const user = this.#users.get(name);
    if (user === undefined) throw new UserError('No such user.', 404);
    return user;
  }

  #keepAnAdmin(user: User, change: string): void {
    if (user.role !== 'admin') return;
    for (const other of this.#users.values()) if (other !== user && other.role === 'admin') return;
    throw new UserError(`The last admin cannot be ${change}: make another user an admin first.`, 409);
  }

  /** Writes the table with `name` set to `user` (or removed), then (only if the store accepted it) makes it current. */
  #commit(name: string, user: User | undefined): void {
    const next = new Map(this.#users);
    if (user === undefined) next.delete(name);
    else next.set(name, user);
    runtime().store.set(USERS_STORE_KEY, formatRecord(next));
    this.#users = next;
  }
}

function formatRecord(users: ReadonlyMap<string, User>): string {
  let text = 'v1';
  for (const user of users.values()) text += `|${user.name}=${user.role === 'admin' ? 'a' : 'v'}:${user.sessions.join(',')}`;
  return text;
}

/**
 * The table, or undefined when the record is not exactly well-formed (then the caller fails closed).
 * Up to MAX_USERS_LIMIT users: a device whose `maxUsers` was lowered keeps its users (it adds none).
 */
function parseRecord(text: string): Map<string, User> | undefined {
  const parts = text.split('|');
  if (parts[0] !== 'v1' || parts.length - 1 > MAX_USERS_LIMIT) return undefined;
  const users = new Map<string, User>();
  for (let i = 1; i < parts.length; i++) {
    const entry = parts[i];
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    const kind = entry.slice(eq + 1, eq + 3);
    if (eq < 0 || !validUsername(name) || users.has(name) || (kind !== 'a:' && kind !== 'v:')) return undefined;
    const list = entry.slice(eq + 3);
    const sessions: number[] = [];
    for (const exp of list === '' ? [] : list.split(',')) {
      if (!/^[1-9][0-9]{0,14}$/.test(exp)) return undefined;
      sessions.push(Number(exp));
    }
    if (sessions.length > MAX_COUNTED_SESSIONS) return undefined;
    users.set(name, { name, role: kind === 'a:' ? 'admin' : 'viewer', sessions });
  }
  return users;
}
