/**
 * Fault injection through the Moddable key store (Preference, NVS on a device): logout revocation and the
 * password change of the login app (main.ts changePassword) when a write fails or the device dies between
 * two writes, and a lost revocation record. A "reboot" is a new Session and PasswordStore over the same
 * Preference domain; each check is reported through `check`.
 */
import { installRuntime, runtime, type KeyValueStore, type Runtime } from '../../../modules/runtime';
import { changePassword } from '../../../main';
import { PasswordStore } from '../../../modules/auth/password';
import { resolveLimits } from '../../../modules/http/limits';
import { RequestParser } from '../../../modules/http/parser';
import { Request } from '../../../modules/http/request';
import { Session, type RejectReason } from '../../../modules/session/session';
import { PreferenceStore } from '../runtime';

const OLD = 'the old password';
const NEW = 'the new password';

/** A request carrying `token` as its session cookie (or none), through the real parser. */
function requestWith(token: string | undefined): Request {
  const limits = resolveLimits();
  const parser = new RequestParser(limits);
  parser.push(runtime().utf8Encode(`GET / HTTP/1.1\r\nHost: device\r\n${token === undefined ? '' : `Cookie: session=${token}\r\n`}\r\n`));
  const parsed = parser.next();
  if (parsed === undefined) throw new Error('selftest: the request did not parse');
  return new Request(parsed.head, parsed.body, '127.0.0.1', limits);
}

export function faultInjection(base: Runtime, check: (what: string, ok: boolean, detail?: string) => void): void {
  const prefs = new PreferenceStore('xsdot-faults');
  for (const key of prefs.keys()) prefs.delete(key);
  let failOn: string | undefined;
  const store: KeyValueStore = {
    get: (key) => prefs.get(key),
    set: (key, value) => {
      if (failOn !== undefined && key.startsWith(failOn)) throw new Error(`injected: ${key} not written`);
      prefs.set(key, value);
    },
    delete: (key) => prefs.delete(key),
  };
  // The session clock moves on with `later` seconds: a reboot happens after the tokens were minted.
  let later = 0;
  installRuntime({ ...base, store, now: () => base.now() + later * 1000 });
  const keys = [{ kid: 'k1', key: runtime().randomBytes(32) }];
  const boot = () => ({ sessions: new Session(undefined, { keys }), passwords: new PasswordStore({ iterations: 2 }) });
  const signIn = (sessions: Session): string => {
    const data = sessions.get(requestWith(undefined));
    data.set('user', 'admin');
    data.save();
    return data.token as string;
  };
  const rejected = (sessions: Session, token: string): RejectReason | undefined => sessions.get(requestWith(token)).rejected;
  const throws = (run: () => void): boolean => {
    try {
      run();
      return false;
    } catch {
      return true;
    }
  };

  try {
    let device = boot();
    device.passwords.set('admin', OLD);
    const loggedOut = signIn(device.sessions);
    device.sessions.get(requestWith(loggedOut)).delete();
    device = boot();
    check('faults: a logged-out token stays revoked after a reboot (Preference)', rejected(device.sessions, loggedOut) === 'revoked');

    // The password write fails after the revocation landed: the old password, and no session, survive.
    const phone = signIn(device.sessions);
    failOn = 'pw.';
    const failed = throws(() => changePassword(device.sessions, device.passwords, 'admin', NEW));
    failOn = undefined;
    device = boot();
    check('faults: a failing password write throws', failed);
    check('faults: ...and leaves the old password', device.passwords.verify('admin', OLD) && !device.passwords.verify('admin', NEW));
    check('faults: ...with every session ended (fail closed)', rejected(device.sessions, phone) === 'revoked');

    // The revocation write fails first: nothing changes.
    const laptop = signIn(device.sessions);
    failOn = 'xsdot.rev';
    const refused = throws(() => changePassword(device.sessions, device.passwords, 'admin', NEW));
    failOn = undefined;
    check('faults: a failing revocation write throws and changes nothing', refused && device.passwords.verify('admin', OLD) && rejected(device.sessions, laptop) === undefined);

    // The revocation record is lost: every token minted before the reboot is revoked.
    const before = signIn(device.sessions);
    prefs.delete('xsdot.rev');
    later = 2;
    device = boot();
    check('faults: a lost revocation record revokes every earlier token', rejected(device.sessions, before) === 'revoked' && rejected(device.sessions, laptop) === 'revoked');
    check('faults: ...and is recreated', /^v1\|\d+\|\|$/.test(prefs.get('xsdot.rev') ?? ''), prefs.get('xsdot.rev'));
    check('faults: ...while new logins work', rejected(device.sessions, signIn(device.sessions)) === undefined);
  } finally {
    for (const key of prefs.keys()) prefs.delete(key);
    installRuntime(base);
  }
}
