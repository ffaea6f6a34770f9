/**
 * Clients that do not play along, over real sockets: stalled and trickling requests (requestTimeout),
 * idle keep-alive connections (idleTimeout), readers that never read (sendTimeout), the connection
 * cap (maxConnections → 503 + Retry-After) and a connection flood. Each test also shows that a
 * well-behaved client is still served, and that the server's connectionCount returns to 0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, get, RawClient, sleep, testApp, waitFor, withServer, type TestServer } from './helpers';

const T = { timeout: 8000 };

/** One well-formed request on a fresh connection (with Connection: close), as a polite client does. */
async function politeRequest(server: TestServer, path = '/'): Promise<string> {
  const { response, client } = await exchange(server, get(path, 'Connection: close\r\n'), { ms: 1000 });
  assert.equal(response.status, 200);
  await client.waitEnd(1000);
  client.destroy();
  return response.text;
}

describe('request timeout (408)', () => {
  test('half a request, then silence → 408 and close after requestTimeout', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    const sent = performance.now();
    await client.write('GET /hello/x HTTP/1.1\r\nHost: t\r\nX-Half: ');
    const response = await client.readResponse({ ms: 2000 });
    const elapsed = performance.now() - sent;
    assert.equal(response.status, 408);
    assert.equal(response.text, 'Request Timeout');
    assert.equal(response.header('connection'), 'close');
    await client.waitEnd(500);
    assert.ok(elapsed >= 280 && elapsed < 800, `408 after ${elapsed.toFixed(0)} ms, requestTimeout is 300`);
    await waitFor(() => server.server.connectionCount === 0, 500, 'connectionCount 0');
  }));

  test('half a body, then silence → 408 and close', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    await client.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf');
    const response = await client.readResponse({ ms: 2000 });
    assert.equal(response.status, 408);
    await client.waitEnd(500);
  }));

  test('slowloris: one header byte every 50 ms is cut off at requestTimeout in total (not per byte)', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    const started = performance.now();
    let sent = 0;
    const line = 'GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'z'.repeat(200);
    while (!client.ended && client.pending.length === 0 && sent < line.length) {
      client.socket.write(line[sent++]);
      await sleep(50);
    }
    const response = await client.readResponse({ ms: 1000 });
    const elapsed = performance.now() - started;
    assert.equal(response.status, 408);
    await client.waitEnd(500);
    assert.ok(elapsed >= 280 && elapsed < 800, `cut off after ${elapsed.toFixed(0)} ms with ${sent} bytes trickled`);
    assert.ok(sent < 20, `only ~6 bytes get through in 300 ms, not ${sent}`);
    await waitFor(() => server.server.connectionCount === 0, 500, 'connectionCount 0');
  }));

  test('the request timeout restarts for each request on a keep-alive connection', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    // Three requests, each taking ~200 ms to arrive: 600 ms in all, over the 300 ms limit, none of them slow.
    for (const name of ['a', 'b', 'c']) {
      await client.write(`GET /hello/${name} HTTP/1.1\r\n`);
      await sleep(200);
      await client.write('Host: t\r\n\r\n');
      assert.equal((await client.readResponse()).text, `Hello, ${name}!`);
    }
  }));
});

describe('idle timeout', () => {
  test('an idle keep-alive connection is closed quietly after idleTimeout', T, () => withServer(testApp(), {}, async (server) => {
    const { response, client } = await exchange(server, get('/'));
    assert.equal(response.status, 200);
    const answered = performance.now();
    await client.waitEnd(2000);
    const idle = (client.endedAt as number) - answered;
    assert.ok(idle >= 280 && idle < 800, `closed after ${idle.toFixed(0)} ms idle, idleTimeout is 300`);
    assert.equal(client.pending.length, 0, 'closed without a response (no 408)');
    assert.equal(client.error, undefined);
    assert.equal(server.server.connectionCount, 0);
  }));

  test('a connection that never sends a byte is closed quietly after idleTimeout', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    const opened = performance.now();
    await waitFor(() => server.server.connectionCount === 1, 500, 'the connection to be accepted');
    await client.waitEnd(2000);
    const idle = (client.endedAt as number) - opened;
    assert.ok(idle >= 280 && idle < 800, `closed after ${idle.toFixed(0)} ms`);
    assert.equal(client.received, 0);
    assert.equal(server.server.connectionCount, 0);
  }));
});

describe('send timeout', () => {
  test('a client that never reads a large streamed response is cut off after sendTimeout; others are served meanwhile', T, () => withServer(testApp(), {}, async (server) => {
    const greedy = await server.client();
    greedy.socket.pause(); // never reads: the kernel buffers fill, then the server's writes stall
    const started = performance.now();
    await greedy.write(get('/endless') + get('/endless'));
    await waitFor(() => server.server.connectionCount === 1, 500, 'the greedy connection');

    // While the greedy connection is stalled, a polite client keeps getting answers.
    let answered = 0;
    while (server.server.connectionCount > 0) {
      assert.equal(await politeRequest(server, '/hello/polite'), 'Hello, polite!');
      answered++;
      assert.ok(performance.now() - started < 4000, 'the stalled connection was never cut off');
    }
    const cutAfter = performance.now() - started;
    assert.ok(answered >= 5, `only ${answered} polite requests were answered while the greedy client stalled`);
    assert.ok(cutAfter >= 500, `cut off after ${cutAfter.toFixed(0)} ms, before sendTimeout (500 ms)`);
    assert.ok(cutAfter < 3000, `cut off only after ${cutAfter.toFixed(0)} ms`);
    assert.equal(server.server.connectionCount, 0);

    // What reached the greedy client is a truncated response, then the end of the connection.
    greedy.socket.resume();
    await greedy.waitEnd(6000);
    assert.ok(greedy.received > 0 && greedy.received < 1024 * 1024 * 1024, `greedy client got ${greedy.received} bytes`);
    assert.match(greedy.pending.subarray(0, 40).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(await politeRequest(server), 'Hello, World!');
  }));

  test('sendTimeout bounds a stall, not the whole response: a slow but steady reader gets all of it', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    client.socket.pause();
    const started = performance.now();
    await client.write(get('/stream/6000', 'Connection: close\r\n')); // 6 MB: more than the socket buffers hold
    // Reads in short bursts with 250 ms pauses (each under sendTimeout, 500 ms).
    let pauses = 0;
    while (!client.ended) {
      await sleep(250);
      pauses++;
      client.socket.resume();
      await sleep(20);
      client.socket.pause();
      assert.ok(performance.now() - started < 6000, `still receiving after ${pauses} pauses (${client.received} bytes)`);
    }
    const response = await client.readResponse();
    assert.equal(response.body.length, 6_000_000);
    assert.ok(performance.now() - started > 500, 'the response took longer than sendTimeout in total');
    assert.ok(pauses >= 2, `the reader paused ${pauses} times`);
    assert.equal(server.server.connectionCount, 0);
  }));
});

describe('connection cap', () => {
  test('maxConnections 2: a third connection gets 503 with Retry-After and is closed; after the idle ones close, a new client is served', T, () => withServer(testApp(), { maxConnections: 2 }, async (server) => {
    const idle1 = await server.client();
    const idle2 = await server.client();
    await waitFor(() => server.server.connectionCount === 2, 500, 'two connections');

    const third = await server.client();
    await third.write(get('/'));
    const refused = await third.readResponse({ ms: 1000 });
    assert.equal(refused.status, 503);
    assert.equal(refused.header('retry-after'), '7');
    assert.equal(refused.header('connection'), 'close');
    assert.equal(refused.text, 'Service Unavailable');
    await third.waitEnd(1000);
    assert.equal(server.server.connectionCount, 2, 'the refused connection never counted');

    // The idle ones are closed by the idle timeout, which frees the slots.
    await idle1.waitEnd(2000);
    await idle2.waitEnd(2000);
    assert.equal(idle1.received + idle2.received, 0);
    await waitFor(() => server.server.connectionCount === 0, 500, 'connectionCount 0');
    assert.equal(await politeRequest(server), 'Hello, World!');
  }, 7));

  test('a slot freed by a client closing is reused at once', T, () => withServer(testApp(), { maxConnections: 1, idleTimeout: 5000 }, async (server) => {
    const first = await server.client();
    await waitFor(() => server.server.connectionCount === 1, 500, 'one connection');
    const { response } = await exchange(server, get('/'));
    assert.equal(response.status, 503);
    first.destroy();
    await waitFor(() => server.server.connectionCount === 0, 1000, 'the slot to be freed');
    assert.equal(await politeRequest(server), 'Hello, World!');
  }));

  test('a flood of 50 connections at once: no crash, a later client is served, connectionCount returns to 0', T, () => withServer(testApp(), { maxConnections: 4 }, async (server) => {
    const outcomes = await Promise.all(Array.from({ length: 50 }, async () => {
      let client: RawClient;
      try {
        client = await RawClient.connect(server.port);
      } catch {
        return 'connect failed';
      }
      try {
        client.socket.write(get('/slow/20', 'Connection: close\r\n'));
        const response = await client.readResponse({ ms: 3000 });
        return String(response.status);
      } catch {
        return client.error !== undefined ? 'reset' : 'closed';
      } finally {
        client.destroy();
      }
    }));
    const tally: Record<string, number> = {};
    for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
    assert.ok((tally['200'] ?? 0) >= 4, `served: ${JSON.stringify(tally)}`);
    assert.ok((tally['503'] ?? 0) >= 1, `refused with 503: ${JSON.stringify(tally)}`);
    for (const outcome of Object.keys(tally)) assert.ok(['200', '503', 'closed', 'reset'].includes(outcome), `unexpected outcome ${outcome}: ${JSON.stringify(tally)}`);
    await waitFor(() => server.server.connectionCount === 0, 2000, 'connectionCount 0');
    assert.equal(await politeRequest(server), 'Hello, World!');
    assert.deepEqual(server.logs.filter((l) => l.level === 'error'), []);
    await waitFor(() => server.server.connectionCount === 0, 2000, 'connectionCount 0');
  }));

  test('a flood of resets, garbage and half requests: no crash, no leaked connection, a later client is served', T, () => withServer(testApp(), { maxConnections: 4 }, async (server) => {
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      let client: RawClient;
      try {
        client = await RawClient.connect(server.port);
      } catch {
        return;
      }
      if (i % 3 === 0) {
        client.socket.resetAndDestroy(); // RST straight away
        return;
      }
      client.socket.write(i % 3 === 1 ? '\u0000\u0001garbage\r\n\r\n' : 'GET / HTTP/1.1\r\nHo');
      await client.waitEnd(2000).catch(() => undefined);
      client.destroy();
    }));
    await waitFor(() => server.server.connectionCount === 0, 2000, 'connectionCount 0');
    assert.equal(await politeRequest(server), 'Hello, World!');
    assert.deepEqual(server.logs.filter((l) => l.level === 'error'), []);
  }));
});
