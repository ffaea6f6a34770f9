/**
 * Installs a runtime for the portable tests in tests/core. On Node this is the Node runtime with an
 * in-memory store; the XS test bundler replaces this file with hosts/xs/install-host.ts.
 */
import { installRuntime } from '../../modules/runtime';
import { createNodeRuntime, MemoryStore } from '../../hosts/node/runtime';

installRuntime(createNodeRuntime({ store: new MemoryStore(), log: () => {} }));
