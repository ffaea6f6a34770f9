/**
 * The server's answers about who a request is for and who it is from: the Host / absolute-form authority
 * check (DNS rebinding: 421; invalid Host: 400, RFC 9112 §3.2, §3.2.2) and connection fairness (one client
 * cannot hold every slot). Runs on Node and on XS.
 */
import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, Response } from '../../modules/http/index';
import { clientGroup } from '../../modules/http/address';
import { defaultHosts, HostAllowList, normalizeAuthority } from '../../modules/http/authority';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { connectionToEvict } from '../../modules/http/fairness';
import { MemoryPeer, MemoryTCP } from '../../modules/http/memory-socket';
import { TestClient } from '../../modules/http/testclient';

test('normalizeAuthority: host[:port] of RFC 3986 without userinfo, lower-cased, default port; anything else undefined', () => {
  assert.equal(normalizeAuthority('Device.Local'), 'device.local:80');
  assert.equal(normalizeAuthority('device:8080'), 'device:8080');
  assert.equal(normalizeAuthority('device:'), 'device:80', 'an empty port is the default');
  assert.equal(normalizeAuthority('192.0.2.1:08080'), '192.0.2.1:8080');
  assert.equal(normalizeAuthority('[FE80::1]:8080'), '[fe80::1]:8080');
  assert.equal(normalizeAuthority('[::ffff:192.0.2.1]'), '[::ffff:192.0.2.1]:80');
  assert.equal(normalizeAuthority("a-b_c~d.e!$&'()*+,;=%41"), "a-b_c~d.e!$&'()*+,;=%41:80");
  assert.equal(normalizeAuthority('x', 443), 'x:443');
  for (const bad of ['', 'a b', 'a/b', 'user@x', 'x:abc', 'x:1:2', 'x:65536', 'x:123456', ':80', '[::1', '[::1]x', '[v1.x]', '[]', '[1.2.3.4]', 'a\\b', 'a%4', 'a?b', 'a#b', 'é']) {
    assert.equal(normalizeAuthority(bad), undefined, JSON.stringify(bad));
  }
});

test('HostAllowList: names on any port, name:port on that port (:80 also without port), IPv6, case, *; 400 invalid, 421 other', () => {
  const hosts = new HostAllowList(['device.local', '192.0.2.1:8080', '[fe80::1]:80', 'localhost:80']);
  for (const ok of ['device.local', 'DEVICE.local:1234', 'device.local:', '192.0.2.1:8080', '[fe80::1]', '[FE80::1]:80', 'localhost', 'localhost:80']) {
    assert.equal(hosts.status(ok), 0, ok);
  }
  for (const other of ['attacker.example', 'attacker.example:8080', '192.0.2.1', '192.0.2.1:80', '[fe80::1]:8080', 'localhost:8080', '192.0.2.2:8080', 'device.local.attacker.example']) {
    assert.equal(hosts.status(other), 421, other);
  }
  for (const invalid of ['a b', 'a/b', 'user@x', 'x:abc', '']) assert.equal(hosts.status(invalid), 400, JSON.stringify(invalid));
  // After a slow-path acceptance the same value is accepted again, and nothing else is.
  assert.equal(hosts.status('Device.Local'), 0);
  assert.equal(hosts.status('Device.Local'), 0);
  assert.equal(hosts.status('attacker.example'), 421);

  const any = new HostAllowList(['*']);
  assert.equal(any.status('anything.example:9'), 0);
  assert.equal(any.status('a b'), 400, '* still refuses invalid values');
  assert.throws(() => new HostAllowList(['bad name']), /allowed host "bad name"/);
  assert.throws(() => new HostAllowList(['user@host']), TypeError);
});

test('defaultHosts: loopback names and addresses pinned to the port, configured names as given', () => {
  assert.deepEqual(defaultHosts(8080, ['192.0.2.7', 'fe80::1', '127.0.0.1'], ['device.local', 'proxy:443']), [
    'localhost:8080', '127.0.0.1:8080', '[::1]:8080', '192.0.2.7:8080', '[fe80::1]:8080', 'device.local', 'proxy:443',
  ]);
  const hosts = new HostAllowList(defaultHosts(80, ['192.0.2.7']));
  assert.equal(hosts.status('192.0.2.7'), 0, 'port 80: the browser sends no port');
  assert.equal(hosts.status('192.0.2.7:8080'), 421);
});

interface Recorder {
  app: App;
  seen: string[];
}

/** An app that records which hooks and handlers ran; 421 pages through its own error handler. */
function recorder(): Recorder {
  const app = new App();
  const seen: string[] = [];
  app.before((request) => void seen.push(`before ${request.path}`));
  app.post('/login', () => {
    seen.push('login');
    return Response.redirect('/', 303);
  });
  app.post('/logout', () => {
    seen.push('logout');
    return 'bye';
  });
  app.get('/', () => 'home');
  app.errorHandler(421, () => new Response('not this device', 421));
  app.afterError((_request, response) => void response.headers.set('X-After-Error', 'yes'));
  return { app, seen };
}

test('Host allow-list: the issue-12 DNS-rebinding POST gets 421 before any hook or handler; our names are served', async () => {
  const { app, seen } = recorder();
  const client = new TestClient(app, { allowedHosts: ['localhost', '192.0.2.1:8080'] });
  for (const path of ['/login', '/logout', '/setup']) {
    const rebound = await client.post(path, { headers: { Host: 'attacker.example', Origin: 'http://attacker.example' }, form: { username: 'admin', password: 'x' } });
    assert.equal(rebound.status, 421, path);
    assert.equal(rebound.text, 'not this device', 'the app error handler answers');
    assert.equal(rebound.headers.get('x-after-error'), 'yes', 'afterError hooks run');
    assert.equal(rebound.headers.get('set-cookie'), undefined);
  }
  assert.deepEqual(seen, [], 'nothing routed');
  assert.equal((await client.post('/login', { headers: { Host: '192.0.2.1:8080' } })).status, 303);
  assert.equal((await client.post('/login', { headers: { Host: '192.0.2.1' } })).status, 421, 'same address, other port');
  assert.equal((await client.get('/')).status, 200, 'Host: localhost');
  assert.deepEqual(seen, ['before /login', 'login', 'before /']);
  assert.deepEqual(client.server.allowedHosts, ['localhost', '192.0.2.1:8080']);
});

test('Host: invalid values get 400 and a close, with or without an allow-list (RFC 9112 §3.2)', async () => {
  for (const allowedHosts of [undefined, ['localhost']]) {
    const { app, seen } = recorder();
    const client = new TestClient(app, { allowedHosts });
    for (const host of ['a b', 'a/b', 'user@x', 'x:abc', '', 'x:99999', '[::1']) {
      const raw = latin1(await client.exchange(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\n\r\n`));
      assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(host));
      assert.match(raw, /\r\nConnection: close\r\n/);
      assert.equal(raw.split('HTTP/1.1 ').length - 1, 1, 'the pipelined request after it is not answered');
    }
    assert.deepEqual(seen, []);
  }
});

test('absolute-form: the target authority wins over Host and is checked the same way (RFC 9112 §3.2.2)', async () => {
  const { app, seen } = recorder();
  const client = new TestClient(app, { allowedHosts: ['device.local'] });
  // The input: the device's own Host and Origin, but the target names another host.
  const evil = await client.post('http://evil.example/logout', { headers: { Host: 'device.local', Origin: 'http://device.local' } });
  assert.equal(evil.status, 421);
  assert.equal((await client.post('http://user@device.local/logout', { headers: { Host: 'device.local' } })).status, 400, 'userinfo');
  assert.equal((await client.post('http:///logout', { headers: { Host: 'device.local' } })).status, 400, 'empty authority');
  assert.equal((await client.post('http://device.local:abc/logout', { headers: { Host: 'device.local' } })).status, 400);
  assert.deepEqual(seen, []);
  assert.equal((await client.post('http://device.local/logout', { headers: { Host: 'attacker.example' } })).text, 'bye', 'Host ignored');
  assert.equal((await client.post('http://device.local/logout', { headers: { Host: '' } })).text, 'bye', 'empty Host with an absolute target');
  assert.equal((await client.post('http://device.local/logout', { headers: { Host: 'a b' } })).status, 400, 'Host must still be valid');
});

test('HTTP/1.0 without Host names no authority and is served', async () => {
  const client = new TestClient(recorder().app, { allowedHosts: ['localhost'] });
  assert.match(latin1(await client.exchange('GET / HTTP/1.0\r\n\r\n')), /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(latin1(await client.exchange('GET / HTTP/1.0\r\nHost: attacker.example\r\n\r\n')), /^HTTP\/1\.1 421 /);
});

test('clientGroup: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64, zone dropped, no address "?"', () => {
  assert.equal(clientGroup('192.0.2.1'), '192.0.2.1');
  assert.equal(clientGroup('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientGroup('::FFFF:192.0.2.1'), '192.0.2.1');
  assert.equal(clientGroup('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  assert.equal(clientGroup('2001:0db8:0001:0002::1'), '2001:db8:1:2::/64');
  assert.equal(clientGroup('2001:db8:1:2:ffff::9'), '2001:db8:1:2::/64', 'another address of the same /64');
  assert.equal(clientGroup('2001:db8::'), '2001:db8:0:0::/64');
  assert.equal(clientGroup('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientGroup('::1'), '0:0:0:0::/64');
  assert.equal(clientGroup('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  assert.notEqual(clientGroup('2001:db8:1:3::1'), clientGroup('2001:db8:1:2::1'));
  assert.equal(clientGroup(undefined), '?');
  assert.equal(clientGroup(''), '?');
  assert.equal(clientGroup('1:2:3'), '1:2:3', 'not an address: kept');
});

test('connectionToEvict: only from a client holding at least two more than the newcomer; idle first, then receiving, then sending', () => {
  const slot = (client: string, evictable: number) => ({ client, evictable });
  const a1 = slot('a', 2);
  const a2 = slot('a', 3);
  const a3 = slot('a', 3);
  const b1 = slot('b', 3);
  assert.equal(connectionToEvict([a1, a2, a3, b1], 'c'), a2, "the hog's oldest idle");
  assert.equal(connectionToEvict([a1, a2, a3, b1], 'a'), undefined, 'the hog competes with itself');
  assert.equal(connectionToEvict([a1, a2, b1, slot('b', 3)], 'c'), a2);
  assert.equal(connectionToEvict([a1, a2, b1, slot('b', 3)], 'b'), undefined, 'equal shares stay');
  assert.equal(connectionToEvict([slot('a', 0), slot('a', 1), slot('a', 0)], 'c')?.evictable, 1, 'a response being sent before none');
  assert.equal(connectionToEvict([slot('a', 0), slot('a', 0)], 'c'), undefined, 'requests being handled are never cut');
  assert.equal(connectionToEvict([slot('a', 3), slot('b', 3), slot('c', 3), slot('d', 3)], 'e'), undefined, 'one each: 503');
});

test('fairness: one client holding every slot (idle or mid-request) does not keep another from being served', async () => {
  const app = new App();
  app.get('/', () => 'home');
  const client = new TestClient(app, { limits: { maxConnections: 4, requestTimeout: 5_000, idleTimeout: 5_000 }, clientAddress: '192.0.2.50' });
  const hog = (bytes: string) => {
    const peer = new MemoryPeer({ remoteAddress: '192.0.2.66' });
    if (bytes !== '') peer.send(latin1Bytes(bytes));
    client.server.accept(MemoryTCP, peer);
    return peer;
  };
  const held = [hog(''), hog('GET / HTTP/1.1\r\nHost: x\r\n'), hog(''), hog('GET / HTTP/1.1\r\n')];
  await Promise.resolve();
  assert.equal(client.server.connectionCount, 4);
  // The scenario: the others must not get 503 while one address holds the slots.
  for (let i = 0; i < 3; i++) assert.equal((await client.get('/')).text, 'home', `legitimate request ${i + 1}`);
  assert.ok(held.filter((peer) => peer.closed).length >= 1, 'the hog lost a connection');
  assert.equal(held[1].closed && !held[0].closed, false, 'idle connections go before ones mid-request');
  // The hog itself gets nothing more than it had: past the cap it is refused.
  const more: MemoryPeer[] = [];
  for (let i = 0; i < 4; i++) more.push(hog(''));
  await Promise.resolve();
  const refused = more.filter((peer) => latin1(peer.head).startsWith('HTTP/1.1 503')).length + more.filter((peer) => peer.closed && peer.head.length === 0).length;
  assert.ok(client.server.connectionCount <= 4);
  assert.ok(refused >= 1, 'the hog is refused past the cap');
  for (const peer of [...held, ...more]) peer.abort();
  client.server.close();
});
