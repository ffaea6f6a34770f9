/** Fills `buffer` with bytes from the platform's CSPRNG (ESP32 hardware RNG, Linux getrandom) and returns it. */
export function randomFill<T extends ArrayBuffer | ArrayBufferView>(buffer: T): T;
