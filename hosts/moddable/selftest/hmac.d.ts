/** The SDK's native HMAC (not exported by `crypt`); key and data must be ArrayBuffers. Self-test only. */
export class NativeHMAC {
  constructor(type: 'SHA256', key: ArrayBuffer);
  write(data: ArrayBuffer): void;
  close(): ArrayBuffer;
}
