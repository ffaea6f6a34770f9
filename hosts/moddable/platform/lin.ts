/** What differs on Linux (the simulator and the x-cli-lin executable): no network setup; SIGPIPE ignored, umask 077. */
import { File } from 'file';
import { getenv, prepareProcess as prepareLinuxProcess } from '../system/system';
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
 * The stand-in for OTA on Linux: the image goes to `firmware.bin.tmp` in XSDOT_DATA_DIR (else /tmp/, as
 * cli/config.ts's file root; read here, not from mc/config, which cannot be preloaded) and is renamed to `firmware.bin` by `complete()`, so a
 * partial image never replaces a whole one; `cancel()` deletes the temporary file.
 */
export function beginFirmwareUpdate(): FirmwareUpdate {
  const dir = getenv('XSDOT_DATA_DIR');
  const root = dir ? (dir.endsWith('/') ? dir : `${dir}/`) : '/tmp/';
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
