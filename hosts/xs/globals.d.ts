/**
 * Globals that xsnap-worker defines (xsBuildAgent in xsnap-worker.c) and that hosts/xs code running
 * inside the worker uses. Missing there, so never to be used: console, setTimeout, crypto, atob/btoa.
 */

/** Writes its arguments, space-separated, as one line on the worker's stdout. */
declare function print(...values: unknown[]): void;

/**
 * Sends `message` to the parent process (a `?` netstring on fd 4) and blocks until the parent
 * answers (a `/` netstring on fd 3); returns the answer's bytes.
 */
declare function issueCommand(message: ArrayBuffer): ArrayBuffer;
