/** What differs on Linux (the simulator and the x-cli-lin executable): no network setup; SIGPIPE ignored, umask 077. */
import { prepareProcess as prepareLinuxProcess } from '../system/system';

export const defaultPlatformName = 'lin';
/** Loopback by default (the SDK's Linux listener binds 0.0.0.0 anyway: keep it in a private network namespace). */
export const defaultAddress: string | undefined = '127.0.0.1';

/** Linux builds serve on the configured address: there is no station address to look up. */
export function localAddress(): string | undefined {
  return undefined;
}

export function prepareProcess(): void {
  prepareLinuxProcess();
}
