/**
 * `xsdot/node` (and `xsdot/host` on Node): serving an app on Node.
 *
 *     import { App } from 'xsdot';
 *     import { serve } from 'xsdot/node';
 *     const app = new App();
 *     app.get('/', () => 'Hello, World!');
 *     serve(app);                       // http://127.0.0.1:8080 ($PORT overrides)
 *
 * Importing it installs the Node runtime unless one is installed, so an app's `new Session(app)` (which
 * reads its keys from the key store: `$XSDOT_DATA_DIR/.sesskey`) works at the top of a module.
 */
import { installNodeRuntime } from './serve';

installNodeRuntime();

export { serve, NODE_LIMITS, type NodeServeOptions, type RunningServer } from './serve';
export { directoryFiles } from './static';
export { createNodeRuntime, FileStore, MemoryStore, type NodeRuntimeOptions } from './runtime';
