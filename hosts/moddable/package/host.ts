/**
 * `xsdot/host` in a Moddable build (manifest_xsdot.json): `serve(app)` as on Node, so one app module
 * builds for ESP32, the simulator and x-cli-lin and runs under `tsx` on Node.
 *
 * Not preloaded: loading it installs the Moddable runtime (unless one is installed) at run time, before
 * the importing app's body runs, so its `new Session(app)` finds the key store (Preference, domain xsdot).
 */
import config from 'mc/config';
import type { App } from 'xsdot/modules/http/app';
import type { Limits } from 'xsdot/modules/http/limits';
import { installRuntime, runtime, runtimeInstalled } from 'xsdot/modules/runtime';
import { createModdableRuntime } from 'xsdot/hosts/moddable/runtime';
import { serve as listen, type ModdableServeOptions, type RunningServer } from 'xsdot/hosts/moddable/serve';
import { defaultAddress, defaultPlatformName, localAddress, prepareProcess } from 'xsdot/hosts/moddable/platform/current';

export type { RunningServer } from 'xsdot/hosts/moddable/serve';
/** Static files from the firmware's resources, indexed by scripts/assets.ts (the Node host's `directoryFiles` counterpart). */
export { resourceFiles, type AssetIndex } from 'xsdot/hosts/moddable/static';

const settings = config as { platform?: unknown; port?: unknown; address?: unknown; limits?: unknown };

if (!runtimeInstalled()) {
  prepareProcess();
  installRuntime(createModdableRuntime({ name: `moddable-${typeof settings.platform === 'string' ? settings.platform : defaultPlatformName}` }));
}

/**
 * Serves `app`. Defaults come from the manifest's `config` (`port`, `address`, `limits`; `mcconfig …
 * port=8081` overrides), else port 8080 on the platform's default address. Prints where it listens.
 * Throws a RangeError for a port that is not 0–65535.
 */
export function serve(app: App, options: Partial<ModdableServeOptions> = {}): RunningServer {
  const port = options.port ?? Number(settings.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`xsdot: port must be a TCP port number (0-65535), got ${String(settings.port)}`);
  const address = options.address ?? (typeof settings.address === 'string' ? settings.address : defaultAddress);
  const limits = { ...(settings.limits as Partial<Limits> | undefined), ...options.limits };
  const running = listen(app, { ...options, port, address, limits });
  runtime().log('info', `xsdot listening on http://${localAddress() ?? address ?? '0.0.0.0'}:${running.port}`);
  return running;
}
