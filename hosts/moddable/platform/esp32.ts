/** What differs on an ESP32: the URL comes from the station's IP address (Wi-Fi joined before main ran). */
import Net from 'net';

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
