/*
 * xsdot: randomFill(buffer) fills `buffer` (ArrayBuffer, typed array or DataView) with bytes from the
 * platform's CSPRNG (ESP32 hardware RNG, Linux getrandom) and returns it. See random.c.
 */
export function randomFill(buffer) @ "xs_xsdot_random_fill";
