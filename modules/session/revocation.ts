/**
 * Ending sessions without a session table: one small record in the host key store, so every change is
 * one atomic store write and survives a reboot.
 *
 * - Per user, a generation: `revokeAll(user)` raises it, and tokens carrying an older `gen` stop verifying
 *   (password change, "sign out everywhere").
 * - A fixed-size list of revoked session ids, each kept until its token's absolute expiry: logout adds
 *   its sid, so a copy of the cookie is refused afterwards. When the list is full (after dropping expired
 *   ids), the logout raises the user's generation instead — every session of that user ends (fail closed).
 * - A not-before time: when the record is missing or unreadable (first start, a lost or corrupt store
 *   value), every token minted before now (`iat`; a token is re-issued only once accepted, so no older
 *   token has a later one) is refused — nothing revoked can come back. It needs a trusted wall clock;
 *   without one, tokens are bound to their boot anyway. Tokens minted within the same second survive.
 * - When the generation table is full (more users revoked than `MAX_USERS`), the not-before time moves
 *   to now and the table empties: every session of every user ends.
 *
 * Bounds: at most `maxSessions` ids (default 16, at most 64) and `MAX_USERS` (16) generations: under 800
 * bytes at the default, under 3,000 with 64 of the longest ids
 * (NVS values are < 4000); one store write per logout of a signed-in session, per `revokeAll`, and when
 * the record had to be (re)created. Memory is changed only after the store accepted the write.
 *
 * Record: `v1|<notBefore>|<userHash>=<gen>,…|<sid>@<exp>,…` (userHash: 12 base64url characters of
 * SHA-256(user), so no user's characters reach the store).
 */
import { runtime } from '../runtime';
import { base64urlEncode } from '../crypto/base64url';

/** Store key of the record (NVS keys ≤ 15 bytes). */
export const REVOCATION_STORE_KEY = 'xsdot.rev';
/** Users whose generation the record keeps. */
export const MAX_USERS = 16;
/** Default number of revoked session ids kept. */
export const DEFAULT_MAX_REVOKED = 16;
const MAX_SID_LENGTH = 24;

export interface RevocationOptions {
  /** Revoked session ids kept until they expire (default 16). */
  maxSessions?: number;
  /** Seconds on the session clock. */
  now: number;
  /** False on a device whose clock was never set: no not-before time is kept then. */
  trustedClock: boolean;
}

interface RevocationState {
  notBefore: number;
  generations: Map<string, number>;
  sids: string[];
  expiries: number[];
}

export class Revocations {
  readonly maxSessions: number;
  #state: RevocationState;

  /** Reads the record; a missing or corrupt one is replaced by "everything before now is revoked". */
  constructor(options: RevocationOptions) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_REVOKED;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1 || this.maxSessions > 64) {
      throw new RangeError('xsdot: maxRevokedSessions must be an integer from 1 to 64');
    }
    const stored = parseRecord(runtime().store.get(REVOCATION_STORE_KEY));
    if (stored !== undefined) {
      this.#state = stored;
      return;
    }
    const fresh: RevocationState = { notBefore: options.trustedClock ? options.now : 0, generations: new Map(), sids: [], expiries: [] };
    this.#state = fresh;
    try {
      this.#commit(fresh);
    } catch (error) {
      // Still fail closed in memory; the store's problem is reported, not fatal.
      runtime().log('error', `xsdot: cannot write the session revocation record: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Tokens minted (iat) before this time (seconds on the session clock) are refused; 0 for none. */
  get notBefore(): number {
    return this.#state.notBefore;
  }

  /** The current generation of the user with hash `userHash` (0 when never revoked). */
  generation(userHash: string): number {
    return this.#state.generations.get(userHash) ?? 0;
  }

  /** True when `sid` was revoked by a logout (and has not expired yet). */
  isRevoked(sid: string): boolean {
    return this.#state.sids.includes(sid);
  }

  /** Revoked session ids currently listed. */
  get revokedCount(): number {
    return this.#state.sids.length;
  }

  /**
   * Ends the session `sid` (a token valid until `exp`) of the user `userHash`: lists the sid, or, when the
   * list is full, raises the user's generation. Returns which. Throws when the store refuses the write
   * (nothing changes then).
   */
  revokeSession(sid: string, exp: number, userHash: string, now: number): 'session' | 'user' {
    const next = this.#copy();
    for (let i = next.sids.length - 1; i >= 0; i--) {
      if (next.expiries[i] < now) {
        next.sids.splice(i, 1);
        next.expiries.splice(i, 1);
      }
    }
    if (next.sids.length < this.maxSessions && sid.length <= MAX_SID_LENGTH && isBase64url(sid)) {
      next.sids.push(sid);
      next.expiries.push(exp);
      this.#commit(next);
      return 'session';
    }
    this.#raise(next, userHash, now);
    this.#commit(next);
    return 'user';
  }

  /** Raises the generation of `userHash` (every older token of that user stops verifying); returns it. Throws when the store refuses. */
  revokeUser(userHash: string, now: number): number {
    const next = this.#copy();
    this.#raise(next, userHash, now);
    this.#commit(next);
    return this.generation(userHash);
  }

  #raise(state: RevocationState, userHash: string, now: number): void {
    const gen = (state.generations.get(userHash) ?? 0) + 1;
    if (!state.generations.has(userHash) && state.generations.size >= MAX_USERS) {
      // No room to remember one more user: end every session of every user instead.
      state.notBefore = now;
      state.generations.clear();
      state.sids.length = 0;
      state.expiries.length = 0;
    }
    state.generations.set(userHash, gen);
  }

  #copy(): RevocationState {
    const state = this.#state;
    return { notBefore: state.notBefore, generations: new Map(state.generations), sids: state.sids.slice(), expiries: state.expiries.slice() };
  }

  /** Writes `state`, then (only if the store accepted it) makes it current. */
  #commit(state: RevocationState): void {
    runtime().store.set(REVOCATION_STORE_KEY, formatRecord(state));
    this.#state = state;
  }
}

/** The record key of a user: short and free of the user's characters. */
export function userHash(user: string): string {
  const hash = runtime().crypto.createSha256();
  hash.update(runtime().utf8Encode(user));
  return base64urlEncode(hash.digest()).slice(0, 12);
}

function isBase64url(text: string): boolean {
  return text.length > 0 && /^[A-Za-z0-9_-]+$/.test(text);
}

function formatRecord(state: RevocationState): string {
  const generations: string[] = [];
  for (const [hash, gen] of state.generations) generations.push(`${hash}=${gen}`);
  const sids: string[] = [];
  for (let i = 0; i < state.sids.length; i++) sids.push(`${state.sids[i]}@${state.expiries[i]}`);
  return `v1|${state.notBefore}|${generations.join(',')}|${sids.join(',')}`;
}

/** The record, or undefined when missing or not exactly well-formed (then the caller fails closed). */
function parseRecord(text: string | undefined): RevocationState | undefined {
  const parts = text?.split('|');
  if (parts === undefined || parts.length !== 4 || parts[0] !== 'v1') return undefined;
  const notBefore = wholeNumber(parts[1]);
  if (notBefore === undefined) return undefined;
  const generations = new Map<string, number>();
  for (const entry of parts[2] === '' ? [] : parts[2].split(',')) {
    const eq = entry.indexOf('=');
    const gen = wholeNumber(entry.slice(eq + 1));
    const hash = entry.slice(0, eq);
    if (eq < 0 || gen === undefined || gen < 1 || !isBase64url(hash) || generations.has(hash)) return undefined;
    generations.set(hash, gen);
  }
  const sids: string[] = [];
  const expiries: number[] = [];
  for (const entry of parts[3] === '' ? [] : parts[3].split(',')) {
    const at = entry.indexOf('@');
    const exp = wholeNumber(entry.slice(at + 1));
    const sid = entry.slice(0, at);
    if (at < 0 || exp === undefined || !isBase64url(sid) || sid.length > MAX_SID_LENGTH) return undefined;
    sids.push(sid);
    expiries.push(exp);
  }
  if (generations.size > MAX_USERS || sids.length > 64) return undefined;
  return { notBefore, generations, sids, expiries };
}

function wholeNumber(text: string): number | undefined {
  return /^(?:0|[1-9][0-9]{0,14})$/.test(text) ? Number(text) : undefined;
}
