/**
 * `xsdot/testing` on Node: microdot's `TestClient`, usable in a test with no setup. Importing it installs
 * a Node runtime with an in-memory key store (nothing written to disk) unless a runtime is installed.
 *
 *     import { TestClient } from 'xsdot/testing';
 *     const client = new TestClient(app);
 *     assert.equal((await client.get('/')).text, 'Hello, World!');
 */
import { installRuntime, runtimeInstalled } from '../../modules/runtime';
import { createNodeRuntime, MemoryStore } from './runtime';

if (!runtimeInstalled()) installRuntime(createNodeRuntime({ store: new MemoryStore() }));

export { TestClient, type TestRequestOptions, type TestResponse } from '../../modules/http/testclient';
