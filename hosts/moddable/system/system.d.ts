/** Milliseconds since boot (ESP32) or since an arbitrary fixed point (Linux, macOS); never decreases. */
export function monotonic(): number;
/** Bytes the XS machine can still allocate (free chunk bytes + free slots × slot size). */
export function heapFree(): number;
/** An environment variable on Linux and macOS builds; always undefined on a device. */
export function getenv(name: string): string | undefined;
/** Linux and macOS: SIGPIPE ignored (a write to a closed socket is an error, not the end), umask 077. */
export function prepareProcess(): void;
/** Linux and macOS: why a TCP listener on `port` (all interfaces) cannot be opened (strerror), or undefined. */
export function listenProblem(port: number): string | undefined;
/** Linux and macOS: why a file cannot be created in the directory `path` (strerror), or undefined. */
export function directoryProblem(path: string): string | undefined;
/** Linux and macOS: flushes stdout and stderr and ends the process with `status`. Nothing elsewhere. */
export function exitProcess(status: number): void;
