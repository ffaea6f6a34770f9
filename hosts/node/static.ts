/**
 * Static files from a directory on Node (modules/http/static.ts's StaticSource). A name (already checked
 * by `safeName`: no dot segments, separators or control characters) is joined to the root, resolved with
 * its symbolic links (realpath), and served only when the result is a regular file inside the root's own
 * real path: a link pointing out of the root is 404. Opened once (the descriptor is what is read, so a
 * file renamed meanwhile cannot be swapped in), read in pieces as the socket drains.
 *
 * ETag: `"<size hex>-<mtime ms hex>"` of the file served (as nginx does): it changes when the file is
 * rewritten, without reading it; Last-Modified from its mtime. `name.gz` beside a file is its
 * precompressed variant.
 */
import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { StaticFile, StaticSource } from '../../modules/http/static';

export function directoryFiles(root: string): StaticSource {
  let base: Promise<string> | undefined;
  /** The real path of `name` under the root, or undefined when it leaves the root or does not exist. */
  const locate = async (name: string): Promise<string | undefined> => {
    const top = await (base ??= realpath(root));
    try {
      const real = await realpath(join(top, name));
      return real.startsWith(top + sep) ? real : undefined;
    } catch {
      return undefined;
    }
  };
  const openFile = async (path: string, gzip: boolean, hasGzip: boolean): Promise<StaticFile | undefined> => {
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      return undefined;
    }
    const modified = Math.floor(info.mtimeMs);
    return {
      size: info.size,
      etag: `"${info.size.toString(16)}-${modified.toString(16)}"`,
      modified,
      gzip,
      hasGzip,
      async read(offset, length) {
        const bytes = new Uint8Array(length);
        const { bytesRead } = await handle.read(bytes, 0, length, offset);
        return bytesRead === length ? bytes : bytes.subarray(0, bytesRead);
      },
      close() { void handle.close().catch(() => undefined); },
    };
  };
  return {
    async open(name, gzip) {
      const path = await locate(name);
      if (path === undefined) return undefined;
      const variant = await locate(`${name}.gz`);
      const hasGzip = variant !== undefined && (await stat(variant).then((info) => info.isFile(), () => false));
      if (gzip && hasGzip) {
        const file = await openFile(variant as string, true, true);
        if (file !== undefined) return file;
      }
      return openFile(path, false, hasGzip);
    },
  };
}
