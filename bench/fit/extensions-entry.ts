/**
 * Allocation of the request kinds of microdot's extensions (Login, BasicAuth, TokenAuth, CORS) on the
 * device-fit host (hosts/xs/fit: 32-bit XS, modules preloaded), for tests/node/budgets.test.ts. Same
 * protocol as bench/fit/peer-entry.ts; `start('{}')` measures, per kind, the slots and chunk bytes one
 * request allocates (one connection each, raw bytes in and out, nothing collected: run it with a heap that
 * never fills). The app is the peer app's size: one route per kind, answers of a few bytes.
 */
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { App, CORS, Server, type Request } from '../../modules/http/index';
import { Session } from '../../modules/session/index';
import { BasicAuth, credentialsMatch, Login, TokenAuth } from '../../modules/auth/index';
import { DirectPeer, open } from '../direct-socket';
import { runScenario } from './scenario';

declare function __fitMemory(): number[];
declare function __fitResetPeak(): void;
declare function __fitGC(): void;

export type ExtensionKind = 'login' | 'login-redirect' | 'remember' | 'basic' | 'token' | 'cors' | 'preflight';

export interface ExtensionAllocation {
  kind: ExtensionKind;
  status: number;
  slots: number;
  chunks: number;
}

const KEY = new Uint8Array(32).fill(7);
const TOKEN = 'c2NyaXB0LXRva2VuLWZvci10ZXN0cw';
const REQUESTS = 20;

function extensionsApp(): App {
  const app = new App();
  const login = new Login<string>(new Session(app, { keys: [{ key: KEY }] }));
  login.userLoader((id) => (id === 'admin' ? id : undefined));
  app.get('/secret', login.required((_request, user) => user));
  app.post('/login', (request: Request) => login.loginUser(request, 'admin', { remember: true }));
  const basic = new BasicAuth<string>();
  basic.authenticate((_request, username, password) => (username === 'admin' && credentialsMatch(password, 'a password') ? username : undefined));
  app.get('/basic', basic.required((_request, user) => user));
  const token = new TokenAuth<string>();
  token.authenticate((_request, given) => (credentialsMatch(given, TOKEN) ? 'script' : undefined));
  app.get('/token', token.required((_request, user) => user));
  new CORS(app, { allowedOrigins: ['https://dashboard.example'], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['Content-Type'], maxAge: 600 });
  app.get('/cors', () => 'shared');
  return app;
}

const head = (line: string, fields: string) => latin1Bytes(`${line} HTTP/1.1\r\nHost: localhost\r\n${fields}Connection: close\r\n\r\n`);

async function allocations(): Promise<{ allocations: ExtensionAllocation[] }> {
  const server = new Server(extensionsApp());
  const peer = new DirectPeer(1024);
  open(server, peer, head('POST /login', 'Content-Length: 0\r\n'));
  const cookies = [...latin1(peer.response, 0, peer.length).matchAll(/\r\nSet-Cookie: ([a-z]+=[^;\r]+)/gi)].map((match) => match[1]);
  const [session, remember] = ['session=', 'remember='].map((name) => cookies.find((cookie) => cookie.startsWith(name)));
  if (session === undefined || remember === undefined) throw new Error(`POST /login: ${latin1(peer.response, 0, peer.length).slice(0, 300)}`);
  const origin = 'Origin: https://dashboard.example\r\n';
  const requests: [ExtensionKind, Uint8Array][] = [
    ['login', head('GET /secret', `Cookie: ${session}\r\n`)],
    ['login-redirect', head('GET /secret', '')],
    ['remember', head('GET /secret', `Cookie: ${remember}\r\n`)],
    ['basic', head('GET /basic', 'Authorization: Basic YWRtaW46YSBwYXNzd29yZA==\r\n')],
    ['token', head('GET /token', `Authorization: Bearer ${TOKEN}\r\n`)],
    ['cors', head('GET /cors', origin)],
    ['preflight', head('OPTIONS /cors', `${origin}Access-Control-Request-Method: PUT\r\n`)],
  ];
  const rows: ExtensionAllocation[] = [];
  for (const [kind, request] of requests) {
    // Warm-up: caches and interned names are made once, not per request.
    for (let i = 0; i < 3; i++) open(server, peer, request);
    const status = peer.status;
    __fitGC();
    __fitResetPeak();
    const [slotsBefore, , chunksBefore] = __fitMemory();
    for (let i = 0; i < REQUESTS; i++) open(server, peer, request);
    const [, peakSlots, , peakChunks] = __fitMemory();
    if (!peer.closed || peer.status !== status) throw new Error(`${kind}: answered ${peer.status}, then ${status}`);
    rows.push({ kind, status, slots: (peakSlots - slotsBefore) / REQUESTS, chunks: (peakChunks - chunksBefore) / REQUESTS });
  }
  return { allocations: rows };
}

export { step } from './scenario';

export function start(_json: string): void {
  runScenario(allocations);
}
