/**
 * Runs bench/inprocess.ts inside XS (xsnap-worker, driven by bench/speed.ts through bench/xsnap.ts):
 * installs the bare-XS runtime (hosts/xs/install-host.ts: pure-TS SHA-256, random bytes injected by
 * the driver) and publishes the run.
 */
import '../hosts/xs/install-host';
import { runInProcess, type InProcessOptions } from './inprocess';
import { publishBench } from './xs-publish';

publishBench((options) => runInProcess({ ...(options as Omit<InProcessOptions, 'providers'>), providers: [] }));
