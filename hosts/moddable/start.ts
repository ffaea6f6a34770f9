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
 */
import config from 'mc/config';
import { createApp } from '../../main';
import { defaultHosts } from '../../modules/http/authority';
import type { Limits } from '../../modules/http/limits';
import { createModdableRuntime } from './runtime';
import { serve } from './serve';
import { getenv } from './system/system';
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

function parsePort(value: unknown, from: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`xsdot: ${from} must be a TCP port number, got ${String(value)}`);
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
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError(`xsdot: ${from} must be an object of limits`);
  const limits: Record<string, number> = {};
  for (const [name, limit] of Object.entries(parsed)) limits[name] = Number(limit);
  return limits as Partial<Limits>;
}

/** The settings from mc/config and, where there is one, the environment. */
export function readSettings(): Settings {
  const settings = config as Record<string, unknown>;
  const platform = typeof settings.platform === 'string' ? settings.platform : defaultPlatformName;
  const address = getenv('XSDOT_ADDRESS') ?? (typeof settings.address === 'string' ? settings.address : defaultAddress);
  return {
    platform,
    deviceName: getenv('XSDOT_DEVICE_NAME') ?? (typeof settings.deviceName === 'string' ? settings.deviceName : undefined),
    port: parsePort(getenv('XSDOT_PORT'), 'XSDOT_PORT') ?? parsePort(settings.port, 'config port') ?? 8080,
    address: address === '' ? undefined : address,
    limits: { ...parseLimits(settings.limits, 'config limits'), ...parseLimits(getenv('XSDOT_LIMITS'), 'XSDOT_LIMITS') },
    hosts: [...parseHosts(settings.hosts, 'config hosts'), ...parseHosts(getenv('XSDOT_HOSTS'), 'XSDOT_HOSTS')],
  };
}

/** Throws on bad settings or when the port cannot be bound (the x-cli-lin executable then exits with 1). */
export default function start(): void {
  prepareProcess();
  const settings = readSettings();
  // The runtime goes in first: creating the app already uses it (key store, setup code).
  installRuntime(createModdableRuntime({ name: `moddable-${settings.platform}` }));
  const running = serve(createApp({ deviceName: settings.deviceName }), { port: settings.port, address: settings.address, limits: settings.limits });
  const local = localAddress();
  // The names a client may use for the device (DNS-rebinding defence): its address on the LAN, the
  // configured address, loopback, and the configured names. Read once: a new DHCP address needs a restart.
  const addresses = [local, settings.address].filter((address): address is string => address !== undefined && address !== '0.0.0.0');
  running.server.allowHosts(defaultHosts(running.port, addresses, settings.hosts));
  const host = local ?? settings.address ?? '0.0.0.0';
  runtime().log('info', `xsdot listening on http://${host}:${running.port}`);
}
