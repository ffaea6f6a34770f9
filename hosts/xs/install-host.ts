/**
 * Installs the xsnap runtime for the portable tests. The XS test bundler (run-tests.ts) puts this
 * file in place of tests/support/install-host.ts; like that file, it keeps logs quiet.
 */
import { installRuntime } from '../../modules/runtime';
import { ENTROPY_GLOBAL } from './protocol';
import { createXsRuntime } from './runtime';

const injected = globalThis as unknown as Record<string, unknown>;
const entropyHex = injected[ENTROPY_GLOBAL];
// Taken once: a second reader of the same pool would get the same "random" bytes.
delete injected[ENTROPY_GLOBAL];

installRuntime(createXsRuntime({
  entropyHex: typeof entropyHex === 'string' ? entropyHex : undefined,
  log: () => {},
}));
