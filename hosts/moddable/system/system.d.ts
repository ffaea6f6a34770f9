/** Milliseconds since boot (ESP32) or since an arbitrary fixed point (Linux, macOS); never decreases. */
export function monotonic(): number;
/** Bytes the XS machine can still allocate (free chunk bytes + free slots × slot size). */
export function heapFree(): number;
/** An environment variable on Linux and macOS builds; always undefined on a device. */
export function getenv(name: string): string | undefined;
/** Linux and macOS: SIGPIPE ignored (a write to a closed socket is an error, not the end), umask 077. */
export function prepareProcess(): void;
