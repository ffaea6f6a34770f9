/**
 * The Moddable entry point (the manifest's `creation.main`): installs the Moddable runtime, creates the
 * app and serves it, then prints where.
 *
 * Settings, later ones winning:
 * - built in: port 8080 on 127.0.0.1 (Linux), port 80 on all interfaces (ESP32, from the manifest);
 * - `mc/config` (the manifest's "config", and `mcconfig … port=8081` on the command line): `port`,
 *   `address`, `deviceName`, `limits` (an object of modules/http/limits.ts names), `hosts` (names the
 *   device answers to besides its IP address and localhost: an array or a comma-separated string of
 *   `name` / `name:port`, e.g. its mDNS name `mydevice.local`);
 * - on Linux builds, the environment: XSDOT_PORT, XSDOT_ADDRESS, XSDOT_DEVICE_NAME, XSDOT_LIMITS (JSON),
 *   XSDOT_HOSTS (comma-separated, added to config's `hosts`). The x-cli-lin
 *   build also reads XSDOT_DATA_DIR (where Preference keeps its file), see cli/config.js.
 *
 * On an ESP32 the SDK's setup/network module joined the Wi-Fi network named by `mcconfig … ssid=…
 * password=…` (and set the clock by SNTP) before this runs.
 *
 * When it cannot start — a setting is invalid (exit status 2), the port cannot be listened on or the key
 * store's directory is not writable (1) — it prints one line saying what and what to do
 * (`xsdot: cannot start: …`) and, on Linux (x-cli-lin, the simulator), ends the process with that
 * status; a device stays up without a server, the line on its console.
 */
import config from 'mc/config';
import { createApp } from '../../main';
import loginAssets from 'xsdot/assets/login';
import { resourceFiles } from './static';
import { defaultHosts } from '../../modules/http/authority';
import { DEFAULT_LIMITS, type Limits } from '../../modules/http/limits';
import { createModdableRuntime } from './runtime';
import { serve } from './serve';
import { directoryProblem, exitProcess, getenv, listenProblem } from './system/system';
import { installRuntime, runtime } from '../../modules/runtime';
import { defaultAddress, defaultPlatformName, localAddress, prepareProcess } from 'xsdot/hosts/moddable/platform/current';

export interface Settings {
  platform: string;
  /** Shown on every page of the app. */
  deviceName: string | undefined;
  port: number;
  address: string | undefined;
  limits: Partial<Limits>;
  /** Allow-list entries besides the device's address and the loopback names (modules/http/authority.ts). */
  hosts: string[];
}

/** A setting that is invalid: exit status 2. */
class SettingError extends Error {
  override name = 'SettingError';
}

function parsePort(value: unknown, from: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SettingError(`${from} must be a TCP port number (0-65535), got ${String(value)}`);
  return port;
}

function parseHosts(value: unknown, from: string): string[] {
  if (value === undefined || value === '') return [];
  const list: unknown[] = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const entry of list) {
    if (typeof entry !== 'string') throw new TypeError(`xsdot: ${from} must be host names`);
    if (entry.trim() !== '') out.push(entry.trim());
  }
  return out;
}

function parseLimits(value: unknown, from: string): Partial<Limits> {
  if (value === undefined || value === '') return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SettingError(`${from} must be a JSON object of limits, such as {"maxBody":4096}`);
  }
  const limits: Record<string, number> = {};
  for (const [name, limit] of Object.entries(parsed)) {
    if (!(name in DEFAULT_LIMITS)) throw new SettingError(`${from}: no limit is named ${JSON.stringify(name)} (the names are those of modules/http/limits.ts)`);
    if (!Number.isInteger(limit) || (limit as number) <= 0) throw new SettingError(`${from}: limit ${name} must be a positive integer, got ${JSON.stringify(limit)}`);
    limits[name] = limit as number;
  }
  return limits as Partial<Limits>;
}

/** The settings from mc/config and, where there is one, the environment. Throws SettingError. */
export function readSettings(): Settings {
  const settings = config as Record<string, unknown>;
  const platform = typeof settings.platform === 'string' ? settings.platform : defaultPlatformName;
  const address = getenv('XSDOT_ADDRESS') ?? (typeof settings.address === 'string' ? settings.address : defaultAddress);
  return {
    platform,
    deviceName: getenv('XSDOT_DEVICE_NAME') ?? (typeof settings.deviceName === 'string' ? settings.deviceName : undefined),
    port: parsePort(getenv('XSDOT_PORT'), 'XSDOT_PORT') ?? parsePort(settings.port, 'the config\'s port') ?? 8080,
    address: address === '' ? undefined : address,
    limits: { ...parseLimits(settings.limits, 'the config\'s limits'), ...parseLimits(getenv('XSDOT_LIMITS'), 'XSDOT_LIMITS') },
    hosts: [...parseHosts(settings.hosts, 'config hosts'), ...parseHosts(getenv('XSDOT_HOSTS'), 'XSDOT_HOSTS')],
  };
}

/**
 * What stops a Linux build from serving, checked before anything is created: the key store's directory
 * (the SDK's Preference ignores write errors, so an unwritable one would lose every password silently)
 * and the port (the SDK's Listener crashes the process when its bind fails). Undefined on a device.
 */
function startProblem(settings: Settings): string | undefined {
  const root = (config as { file?: { root?: unknown } }).file?.root;
  if (typeof root === 'string') {
    const problem = directoryProblem(root);
    if (problem !== undefined) {
      return `the key store's directory ${root} is not writable (${problem}): ` +
        (settings.platform === 'x-cli-lin' ? 'set XSDOT_DATA_DIR to a writable directory' : 'make it writable');
    }
  }
  if (settings.port === 0) return undefined;
  const problem = listenProblem(settings.port);
  if (problem === undefined) return undefined;
  return problem === 'Address already in use'
    ? `port ${settings.port} is in use: stop the program that listens on it, or choose another port (XSDOT_PORT, or mcconfig … port=…)`
    : `cannot listen on port ${settings.port} (${problem}): choose another port (XSDOT_PORT, or mcconfig … port=…)`;
}

/** Prints why the app cannot start and, on Linux, ends the process with `status`. */
function cannotStart(message: string, status: number): void {
  trace(`xsdot: cannot start: ${message.replace(/^xsdot: /, '')}\n`);
  exitProcess(status);
}

export default function start(): void {
  prepareProcess();
  let settings: Settings;
  try {
    settings = readSettings();
  } catch (error) {
    cannotStart(error instanceof Error ? error.message : String(error), error instanceof SettingError ? 2 : 1);
    return;
  }
  const problem = startProblem(settings);
  if (problem !== undefined) {
    cannotStart(problem, 1);
    return;
  }
  try {
    // The runtime goes in first: creating the app already uses it (key store, setup code).
    installRuntime(createModdableRuntime({ name: `moddable-${settings.platform}` }));
    // The stylesheet from flash: app/static built into the resources by scripts/assets.ts.
    const running = serve(createApp({ deviceName: settings.deviceName, assets: resourceFiles(loginAssets) }), { port: settings.port, address: settings.address, limits: settings.limits });
    const local = localAddress();
    // The names a client may use for the device (DNS-rebinding defence): its address on the LAN, the
    // configured address, loopback, and the configured names. Read once: a new DHCP address needs a restart.
    const addresses = [local, settings.address].filter((address): address is string => address !== undefined && address !== '0.0.0.0');
    running.server.allowHosts(defaultHosts(running.port, addresses, settings.hosts));
    const host = local ?? settings.address ?? '0.0.0.0';
    runtime().log('info', `xsdot listening on http://${host}:${running.port}`);
  } catch (error) {
    cannotStart(error instanceof Error ? error.message : String(error), 1);
  }
}
