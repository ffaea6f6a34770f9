/** What differs on Linux (the simulator and the x-cli-lin executable): no network setup; SIGPIPE ignored, umask 077. */
import config from 'mc/config';
import { File } from 'file';
import { prepareProcess as prepareLinuxProcess } from '../system/system';
import type { FirmwareUpdate } from '../../../modules/runtime';

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

/**
 * The stand-in for OTA on Linux: the image goes to `firmware.bin.tmp` under the file root (the data
 * directory of x-cli-lin, see cli/config.ts) and is renamed to `firmware.bin` by `complete()`, so a
 * partial image never replaces a whole one; `cancel()` deletes the temporary file.
 */
export function beginFirmwareUpdate(): FirmwareUpdate {
  const root = (config as { file?: { root?: string } }).file?.root ?? '/tmp/';
  const temp = `${root}firmware.bin.tmp`;
  File.delete(temp);
  let file: File | undefined = new File(temp, true);
  const release = (): void => {
    file?.close();
    file = undefined;
  };
  return {
    write(bytes: Uint8Array): void {
      if (file === undefined) throw new Error('xsdot: the firmware update is over');
      // The Linux File writes whole ArrayBuffers only: a copy of the piece (the simulator's cost, not a device's).
      file.write(bytes.slice().buffer as ArrayBuffer);
    },
    complete(): void {
      if (file === undefined) throw new Error('xsdot: the firmware update is over');
      release();
      if (!File.rename(temp, 'firmware.bin')) throw new Error('xsdot: the firmware image could not be renamed into place');
    },
    cancel(): void {
      if (file === undefined) return;
      release();
      File.delete(temp);
    },
  };
}
