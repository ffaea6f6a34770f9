/**
 * Static files from the firmware's resources (modules/http/static.ts's StaticSource): read-only data in
 * flash, memory-mapped: `new Resource(name)` is a host buffer, and each piece sent is a view of it, so a
 * file is never copied into RAM (the socket copies each piece into its own buffers as it drains).
 *
 * The index comes from the asset build step (scripts/assets.ts): one row per file, looked up by exact
 * name, so a request can open nothing but the files built in. ETags were computed at build time
 * (SHA-256 of the bytes); resources have no modification time, so no Last-Modified.
 */
import Resource from 'Resource';
import type { StaticFile, StaticSource } from '../../modules/http/static';

/** `[name, resource, size, etag, gzResource, gzSize, gzEtag]`, '' and 0 when there is no `.gz` variant. */
export type AssetIndex = readonly (readonly [string, string, number, string, string, number, string])[];

export function resourceFiles(index: AssetIndex): StaticSource {
  return {
    open(name: string, gzip: boolean): StaticFile | undefined {
      for (const row of index) {
        if (row[0] !== name) continue;
        const hasGzip = row[4] !== '';
        const useGzip = gzip && hasGzip;
        // The SDK's typings give Resource no ArrayBuffer shape; natively it is a host buffer a typed array can view.
        const bytes = new Uint8Array(new Resource(useGzip ? row[4] : row[1]) as unknown as ArrayBuffer);
        return {
          size: bytes.length,
          etag: useGzip ? row[6] : row[3],
          modified: undefined,
          gzip: useGzip,
          hasGzip,
          read: (offset: number, length: number) => bytes.subarray(offset, offset + length),
          close() { /* flash: nothing to release */ },
        };
      }
      return undefined;
    },
  };
}
