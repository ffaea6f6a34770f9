/** What differs on an ESP32: the URL comes from the station's IP address (Wi-Fi joined before main ran). */
import Net from 'net';
// @ts-expect-error -- the SDK ships no typings for its ESP32 `ota` module (build/devices/esp32/modules/ota/ota.js).
import OTAModule from 'ota';
import type { FirmwareUpdate } from '../../../modules/runtime';

/** The SDK's `ota.js`: `new OTA()` opens the next OTA app partition (esp_ota_begin). */
interface OTAUpdate {
  /** Appends bytes (any buffer or view) to the image. */
  write(data: ArrayBuffer | ArrayBufferView): void;
  /** Ends the image and marks it for the next boot. */
  complete(): void;
  /** Drops the image; the running partition is untouched. */
  cancel(): void;
}
const OTA = OTAModule as new () => OTAUpdate;

export const defaultPlatformName = 'esp32';
/** Serve on every interface of the device (the LAN). */
export const defaultAddress: string | undefined = undefined;

/** The device's IPv4 address on the LAN, or undefined without a network. */
export function localAddress(): string | undefined {
  const ip = Net.get('IP');
  return typeof ip === 'string' && ip !== '' && ip !== '0.0.0.0' ? ip : undefined;
}

export function prepareProcess(): void {
  // Nothing: lwIP sockets raise no signals.
}

/**
 * A firmware image into the next OTA app partition (the SDK's `ota` module, esp_ota_*): `complete()` marks
 * it for the next boot, `cancel()` drops it; the running partition is never written.
 */
export function beginFirmwareUpdate(): FirmwareUpdate {
  const ota = new OTA();
  let open = true;
  return {
    write(bytes: Uint8Array): void {
      ota.write(bytes);
    },
    complete(): void {
      open = false;
      ota.complete();
    },
    cancel(): void {
      if (!open) return;
      open = false;
      ota.cancel();
    },
  };
}
