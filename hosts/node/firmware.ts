/**
 * Firmware images on Node (the stand-in for a device's OTA): written to a new temporary file beside
 * `path` (created exclusively, mode 0600, never following a link), fsynced, and renamed over `path` only
 * by `complete()`, then the directory is fsynced; `cancel()` removes the temporary file. A crash or power
 * cut leaves the previous image whole.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { FirmwareUpdate } from '../../modules/runtime';

export function fileFirmwareUpdate(path: string): FirmwareUpdate {
  const temp = join(dirname(path), `${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  let fd: number | undefined = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const release = (): void => {
    if (fd === undefined) return;
    const open = fd;
    fd = undefined;
    closeSync(open);
  };
  return {
    write(bytes) {
      if (fd === undefined) throw new Error('xsdot: the firmware update is over');
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    },
    complete() {
      if (fd === undefined) throw new Error('xsdot: the firmware update is over');
      fsyncSync(fd);
      release();
      renameSync(temp, path);
      const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    },
    cancel() {
      if (fd === undefined) return;
      release();
      try { unlinkSync(temp); } catch { /* already gone */ }
    },
  };
}
