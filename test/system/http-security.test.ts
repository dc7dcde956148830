// The gateway's HTTP edge against hostile clients, on a real loopback port and mostly over raw
// sockets (fetch and http.request normalize what these tests need to send as is): API keys checked
// on the route the router matched, browser access (Origin, Host, CORS), secrets kept out of the
// log, a bounded time to receive a request, and OpenAI-shaped refusals of bad upgrades and Expects.
import net from 'node:net';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { completion, fetchJson, openEvents, sleep } from '../support/process-helpers.js';
import { type RawResponse, parseResponse, portOf, rawRequest, upgradeHeaders } from '../support/raw-http.js';
import { spawnGateway } from '../support/spawn-gateway.js';

const KEY = 'key-one';
const bearer = { authorization: `Bearer ${KEY}` };
const chatBody = JSON.stringify(completion('hi'));

const isOpenAIError = (r: RawResponse, type?: string, code?: string) => {
  let e;
  try {
    e = JSON.parse(r.body).error;
  } catch {
    return false;
  }
  return (
    typeof e?.message === 'string' &&
    'param' in e &&
    (type === undefined || e.type === type) &&
    (code === undefined || e.code === code) &&
    r.headers['content-type']?.startsWith('application/json')
  );
};

/** The Messages API's error shape, which its routes (`/v1/messages…`) answer with. */
const isAnthropicError = (r: RawResponse, type: string) => {
  try {
    const body = JSON.parse(r.body);
    return body.type === 'error' && body.error?.type === type && typeof body.error.message === 'string';
  } catch {
    return false;
  }
};

const NO_SESSION = '00000000-0000-4000-8000-000000000000';

/** Every route the app has, with a path that reaches it and what it answers with the key. */
interface RouteCase {
  method: string;
  route: string;
  path: string;
  withKey?: number;
}
const PROTECTED: RouteCase[] = [
  { method: 'POST', route: '/v1/chat/completions', path: '/v1/chat/completions', withKey: 200 },
  // The Messages API's routes, with a chat completion's body (no max_tokens: a 400; count_tokens takes it). Their errors have Anthropic's shape.
  { method: 'POST', route: '/v1/messages', path: '/v1/messages', withKey: 400 },
  { method: 'POST', route: '/v1/messages/count_tokens', path: '/v1/messages/count_tokens', withKey: 200 },
  { method: 'POST', route: '/v1/responses', path: '/v1/responses', withKey: 400 },
  { method: 'GET', route: '/v1/responses/:id', path: '/v1/responses/resp_1', withKey: 404 },
  { method: 'DELETE', route: '/v1/responses/:id', path: '/v1/responses/resp_1', withKey: 404 },
  { method: 'POST', route: '/v1/responses/:id/cancel', path: '/v1/responses/resp_1/cancel', withKey: 404 },
  { method: 'GET', route: '/v1/responses/:id/input_items', path: '/v1/responses/resp_1/input_items', withKey: 404 },
  { method: 'GET', route: '/v1/processes', path: '/v1/processes', withKey: 200 },
  { method: 'GET', route: '/v1/processes/:id', path: '/v1/processes/proc_1', withKey: 404 },
  { method: 'DELETE', route: '/v1/processes/:id', path: '/v1/processes/proc_1', withKey: 404 },
  { method: 'GET', route: '/v1/sessions', path: '/v1/sessions', withKey: 200 },
  { method: 'GET', route: '/v1/sessions/:id', path: `/v1/sessions/${NO_SESSION}`, withKey: 404 },
  { method: 'DELETE', route: '/v1/sessions/:id', path: `/v1/sessions/${NO_SESSION}`, withKey: 404 },
  { method: 'GET', route: '/v1/usage', path: '/v1/usage', withKey: 200 },
  { method: 'GET', route: '/v1/events', path: '/v1/events', withKey: 426 },
  { method: 'GET', route: '/v1/models', path: '/v1/models', withKey: 200 },
  { method: 'GET', route: '/v1/models/*', path: '/v1/models/sonnet', withKey: 200 },
];
const OPEN: RouteCase[] = [
  ['/'],
  ['/dashboard/:file', '/dashboard/app.js'],
  ['/health'],
  ['/ready'],
  ['/metrics'],
  ['/openapi.yaml'],
  ['/docs'],
  ['/docs/'],
  ['/docs/json'],
  ['/docs/yaml'],
  ['/docs/static/index.html'],
  ['/docs/static/swagger-initializer.js'],
  ['/docs/static/*', '/docs/static/swagger-ui.css'],
].map(([route, p]) => ({ method: 'GET', route: route!, path: p ?? route! }));
/** GET routes come with a HEAD twin. */
const withHead = (routes: RouteCase[]) =>
  routes.flatMap((r) => (r.method === 'GET' ? [r, { ...r, method: 'HEAD' }] : [r]));

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');

/** Ways to write a request target that a router may still take for `p`. */
function disguises(p: string, port: number): string[] {
  const out = new Set<string>();
  // Each character percent-encoded, in upper and lower case hex (the leading '/' excepted: without
  // it the target is no longer origin-form and Node refuses it before any routing).
  for (let i = 1; i < p.length; i++) {
    for (const h of [hex(p[i]!).toUpperCase(), hex(p[i]!).toLowerCase()]) out.add(`${p.slice(0, i)}%${h}${p.slice(i + 1)}`);
  }
  out.add(p.replace(/[^/]/g, (c) => `%${hex(c)}`));
  out.add(`/${p}`);
  out.add(p.replaceAll('/', '//'));
  out.add(`/.${p}`);
  out.add(p.replace('/v1/', '/v1/./'));
  out.add(`/x/..${p}`);
  out.add(`/%2e%2e${p}`);
  out.add(`${p}/`);
  out.add(`${p}?`);
  out.add(`${p}#`);
  out.add(p.toUpperCase());
  out.add(p.replace('/v1/', '/V1/'));
  for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `HTTP://127.0.0.1:${port}`]) {
    out.add(`${origin}${p}`);
    out.add(`${origin}${p.replace('/v1/', '/%76%31/')}`);
  }
  out.delete(p);
  return [...out];
}

/** A gateway on the fake CLI (no pool) for one describe block: started before its tests, stopped after. */
function useFakeGateway(env: Record<string, string>, started: (gw: TestGateway) => void): void {
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '0', ...env } });
    started(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });
}

/** Runs `fn` over `items`, a few at a time. */
async function inBatches<T, R>(items: T[], fn: (t: T) => Promise<R>, size = 16): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

describe('configuration of the HTTP edge', () => {
  it('normalizes ALLOWED_ORIGINS and ALLOWED_HOSTS, and refuses bad values naming the variable', () => {
    const c = loadConfig({ ALLOWED_ORIGINS: 'https://App.Example/, http://localhost:3000', ALLOWED_HOSTS: 'GW.example., *' });
    expect(c.allowedOrigins).toEqual(['https://app.example', 'http://localhost:3000']);
    expect(c.allowedHosts).toEqual(['gw.example', '*']);
    expect(c.requestReceiveTimeoutMs).toBe(30_000);
    for (const [name, value] of [
      ['ALLOWED_ORIGINS', 'app.example'],
      ['ALLOWED_ORIGINS', 'https://app.example/path'],
      ['ALLOWED_ORIGINS', 'null'],
      ['ALLOWED_HOSTS', 'gw.example:8787'],
      ['REQUEST_RECEIVE_TIMEOUT_MS', '0'],
    ]) {
      expect(() => loadConfig({ [name!]: value }), `${name}=${value}`).toThrow(new RegExp(`^invalid ${name}=`));
    }
  });
});

describe('API keys: decided by the route the router matched', () => {
  let gw: TestGateway;
  let port: number;
  useFakeGateway({ GATEWAY_API_KEYS: `${KEY},key-two` }, (g) => {
    gw = g;
    port = portOf(g.url);
  });

  it('the route list below is every route the app has', () => {
    const all = withHead([...PROTECTED, ...OPEN]);
    for (const r of all) expect(gw.app.hasRoute({ method: r.method as 'GET', url: r.route }), `${r.method} ${r.route}`).toBe(true);
    const printed = [...gw.app.printRoutes({ commonPrefix: false }).matchAll(/\(([A-Z, ]+)\)/g)].flatMap((m) => m[1]!.split(', '));
    const listed = new Set(all.map((r) => `${r.method} ${r.route}`));
    expect(printed.length, 'a route was added: list it above, as protected or open').toBe(listed.size);
  });

  it('without a key, every protected route answers 401 however its path is written, and nothing runs', async () => {
    const cases = withHead(PROTECTED).flatMap((r) => {
      const targets = [r.path, ...disguises(r.path, port)];
      const plain = targets.map((target) => ({ r, target, upgrade: false }));
      // The WebSocket route is also tried as a handshake, the way a browser would open it.
      const handshake = r.route === '/v1/events' && r.method === 'GET';
      const ws = handshake ? targets.map((target) => ({ r, target: `${target}?since=0`, upgrade: true })) : [];
      return [...plain, ...ws];
    });
    expect(cases.length).toBeGreaterThan(400);
    const wrong = (
      await inBatches(cases, async ({ r, target, upgrade }) => {
        const res = await rawRequest(port, {
          method: r.method,
          target,
          headers: upgrade ? upgradeHeaders() : {},
          body: r.method === 'POST' ? chatBody : undefined,
        });
        const ok = res.status === 401 && (r.method === 'HEAD' || isOpenAIError(res, 'authentication_error', 'missing_api_key') || isAnthropicError(res, 'authentication_error'));
        return ok ? undefined : `${r.method} ${target}${upgrade ? ' (upgrade)' : ''} → ${res.status}`;
      })
    ).filter(Boolean);
    expect(wrong).toEqual([]);
    const list = await fetchJson(`${gw.url}/v1/processes`, { headers: bearer });
    expect(list.body.data).toEqual([]);
  });

  it('unmatched paths need the key too (nothing is learnt without one)', async () => {
    for (const target of ['/nope', '/v1', '/v1/nope', '/V1/MODELS', `http://127.0.0.1:${port}/nope`]) {
      const res = await rawRequest(port, { target });
      expect(res.status, target).toBe(401);
      expect(isOpenAIError(res, 'authentication_error')).toBe(true);
      expect((await rawRequest(port, { target, headers: bearer })).status, target).toBe(404);
    }
    expect((await rawRequest(port, { method: 'PUT', target: '/v1/models' })).status).toBe(401);
  });

  it('with the key every protected route answers normally, disguised paths included', async () => {
    for (const r of withHead(PROTECTED)) {
      const body = r.method === 'POST' ? chatBody : undefined;
      const res = await rawRequest(port, { method: r.method, target: r.path, headers: bearer, body });
      expect(res.status, `${r.method} ${r.path}`).toBe(r.withKey);
    }
    const disguised = await rawRequest(port, { method: 'POST', target: '/%76%31/chat/completions', headers: bearer, body: chatBody });
    expect(disguised.status).toBe(200);
    expect(JSON.parse(disguised.body).choices[0].message.content).toBe('fake answer');
  });

  it('the open routes (probes, docs, contract) answer without a key', async () => {
    for (const r of withHead(OPEN)) {
      const res = await rawRequest(port, { method: r.method, target: r.path });
      expect(res.status, `${r.method} ${r.path}`).toBeLessThan(400);
    }
    // The docs' static wildcard is open, but serves nothing outside swagger-ui's own files.
    const traversals = ['/docs/static/..%2f..%2f..%2fpackage.json', '/docs/static/../../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json'];
    for (const target of traversals) {
      const res = await rawRequest(port, { target });
      expect(res.status, target).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('claude-cli-gateway');
    }
  });

  it('takes ?api_key= only on the events route, whichever way the path is written', async () => {
    for (const target of [`/v1/processes?api_key=${KEY}`, `/%76%31/processes?api_key=${KEY}`, `/v1/models?api_key=${KEY}`]) {
      expect((await rawRequest(port, { target })).status, target).toBe(401);
    }
    expect((await rawRequest(port, { target: `/v1/events?api_key=${KEY}` })).status).toBe(426);
    const upgraded = await rawRequest(port, { target: `/%76%31/events?api_key=${KEY}`, headers: upgradeHeaders(), waitMs: 300 });
    expect(upgraded.status).toBe(101);
    const socket = await openEvents(gw.url, { api_key: KEY });
    await socket.close();
  });
});

describe('browser access: Origin and Host', () => {
  let gw: TestGateway;
  let port: number;
  useFakeGateway({}, (g) => {
    gw = g;
    port = portOf(g.url);
  });

  it('refuses a WebSocket from a foreign page, so it cannot replay other clients’ answers', async () => {
    const done = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('private') });
    expect(done.status).toBe(200);
    for (const headers of [{ origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://localhost:${port}` }]) {
      const refused = await openEvents(gw.url, { since: 0 }, headers).then(
        () => 101,
        (e: { status: number; body: string }) => {
          expect(JSON.parse(e.body).error).toMatchObject({ type: 'permission_error', code: 'forbidden_origin' });
          return e.status;
        },
      );
      expect(refused, headers.origin).toBe(403);
    }
    // Version 8 handshakes name the page in Sec-WebSocket-Origin.
    const v8 = await rawRequest(port, {
      target: '/v1/events?since=0',
      headers: { ...upgradeHeaders(), 'sec-websocket-version': '8', 'sec-websocket-origin': 'http://evil.example' },
    });
    expect(v8.status).toBe(403);
    // The gateway's own pages (same host:port) are welcome.
    const own = await openEvents(gw.url, { since: 0 }, { origin: gw.url });
    await own.next((e) => e.type === 'PROCESS_COMPLETE');
    await own.close();
  });

  it('refuses plain requests from a foreign page, and sends no CORS headers', async () => {
    const evil = await rawRequest(port, {
      method: 'POST',
      target: '/v1/chat/completions',
      headers: { origin: 'http://evil.example' },
      body: chatBody,
    });
    expect(evil.status).toBe(403);
    expect(isOpenAIError(evil, 'permission_error', 'forbidden_origin')).toBe(true);
    const own = await rawRequest(port, { target: '/v1/models', headers: { origin: gw.url } });
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await rawRequest(port, {
      method: 'OPTIONS',
      target: '/v1/chat/completions',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('refuses a Host it does not answer as (DNS rebinding), absolute-form targets included', async () => {
    const before = (await fetchJson(`${gw.url}/v1/processes`)).body.data.length;
    const foreign = [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`, '127.0.0.1.evil.example', `evil.example@127.0.0.1:${port}`];
    for (const host of foreign) {
      for (const [method, target, body] of [
        ['GET', '/v1/processes', undefined],
        ['POST', '/v1/chat/completions', chatBody],
        ['GET', '/health', undefined],
      ] as const) {
        const res = await rawRequest(port, { method, target, headers: { host }, body });
        expect(res.status, `${host} ${target}`).toBe(403);
        expect(isOpenAIError(res, 'permission_error', 'forbidden_host')).toBe(true);
      }
    }
    const absolute = await rawRequest(port, { target: `http://evil.example:${port}/v1/processes` });
    expect(absolute.status).toBe(403);
    expect((await fetchJson(`${gw.url}/v1/processes`)).body.data.length).toBe(before);
  });

  it('answers as loopback names and IP literals (probes use the pod IP)', async () => {
    const own = [`localhost:${port}`, `LOCALHOST.:${port}`, `app.localhost:${port}`, `127.0.0.1:${port}`, '127.1.2.3', `[::1]:${port}`, '10.1.2.3:8787', '[fd00::1]'];
    for (const host of own) {
      expect((await rawRequest(port, { target: '/health', headers: { host } })).status, host).toBe(200);
    }
  });

  it('answers as the bound HOST and ALLOWED_HOSTS too (`*`: any)', async () => {
    const named = await startGateway({ fake: true, env: { POOL_SIZE: '0', HOST: 'gw-host.test', ALLOWED_HOSTS: 'gw.example' } });
    const any = await startGateway({ fake: true, env: { POOL_SIZE: '0', ALLOWED_HOSTS: '*' } });
    try {
      const status = async (g: TestGateway, host: string) => (await rawRequest(portOf(g.url), { target: '/v1/models', headers: { host } })).status;
      expect(await status(named, 'GW.example:8787')).toBe(200);
      expect(await status(named, 'gw-host.test')).toBe(200);
      expect(await status(named, 'other.example')).toBe(403);
      expect(await status(any, 'other.example')).toBe(200);
      // `*` opens the Host check only: a foreign Origin is still refused.
      expect((await rawRequest(portOf(any.url), { target: '/v1/models', headers: { origin: 'http://evil.example' } })).status).toBe(403);
    } finally {
      await named.close();
      await any.close();
    }
  });
});

describe('CORS for ALLOWED_ORIGINS', () => {
  const APP = 'http://app.example:3000';
  let port: number;
  useFakeGateway({ ALLOWED_ORIGINS: `${APP}/, https://other.example`, GATEWAY_API_KEYS: KEY }, (g) => {
    port = portOf(g.url);
  });

  it('answers preflights from a listed origin without a key (browsers send none)', async () => {
    const res = await rawRequest(port, {
      method: 'OPTIONS',
      target: '/v1/chat/completions',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type');
  });

  it('lets a listed origin call the API with its key and read the answer', async () => {
    const res = await rawRequest(port, { method: 'POST', target: '/v1/chat/completions', headers: { origin: APP, ...bearer }, body: chatBody });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-expose-headers']).toContain('x-process-id');
    const keyless = await rawRequest(port, { target: '/v1/models', headers: { origin: APP } });
    expect(keyless.status).toBe(401);
  });

  it('still refuses other origins, and a plain OPTIONS is routed (401 without a key), not a bare 400', async () => {
    const evil = await rawRequest(port, {
      method: 'OPTIONS',
      target: '/v1/models',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(evil.status).toBe(403);
    const plain = await rawRequest(port, { method: 'OPTIONS', target: '/v1/models' });
    expect(plain.status).toBe(401);
    expect(isOpenAIError(plain)).toBe(true);
  });
});

describe('secrets never reach the log', () => {
  it('redacts query values, credentials headers and userinfo in every logged request (real process, LOG_LEVEL info)', async () => {
    const dir = tempDir();
    const secret = (n: number) => `sekrit${n}x${process.pid}`;
    const gw = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE, POOL_SIZE: '0', GATEWAY_API_KEYS: secret(0) });
    try {
      const port = portOf(gw.url);
      const auth = { authorization: `Bearer ${secret(0)}` };
      const ws = await openEvents(gw.url, { api_key: secret(0), since: 0 });
      await ws.close();
      const sent: RawResponse[] = [];
      const send = async (...args: Parameters<typeof rawRequest>) => void sent.push(await rawRequest(...args));
      const mistyped = `apikey=${secret(1)}&key=${secret(2)}&token=${secret(3)}&access_token=${secret(4)}`;
      await send(port, { target: `/v1/processes?${mistyped}&limit=5`, headers: auth });
      await send(port, { target: '/v1/models', headers: { authorization: `Bearer ${secret(5)}` } });
      await send(port, { target: '/v1/models', headers: { authorization: secret(6) } });
      const credentials = { 'x-api-key': secret(7), cookie: `sid=${secret(8)}`, 'proxy-authorization': `Basic ${secret(9)}` };
      await send(port, { target: '/v1/models', headers: credentials });
      await send(port, { target: `/nope?api_key=${secret(10)}` });
      await send(port, { target: `http://user:${secret(11)}@127.0.0.1:${port}/v1/models?key=${secret(12)}` });
      await send(port, { target: `/v1/models?${secret(13)}`, headers: auth });
      await send(port, { target: `/v1/models#${secret(14)}`, headers: auth });
      await send(port, { target: `/v1/%zz?api_key=${secret(15)}` });
      await send(port, { target: `/health?api_key=${secret(16)}`, headers: upgradeHeaders() });
      await send(port, { target: `/v1/processes?session_id=${secret(17)}%20x`, headers: auth });
      await send(port, { method: 'POST', target: `/v1/chat/completions?api_key=${secret(18)}`, headers: auth, body: chatBody });
      await send(port, { target: `/v1/events?since=0&api_key=${secret(19)}`, headers: upgradeHeaders() });
      expect(sent.map((r) => r.status)).toEqual([200, 401, 401, 401, 401, 401, 200, 200, 400, 400, 400, 200, 401]);
      await sleep(200);
      const out = gw.output();
      expect(out).toContain('api_key=[redacted]');
      expect(out).toContain('limit=5');
      for (let n = 0; n <= 19; n++) expect(out, `secret ${n} logged`).not.toContain(secret(n));
    } finally {
      await gw.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('REQUEST_RECEIVE_TIMEOUT_MS', () => {
  const TIMEOUT = 400;
  let gw: TestGateway;
  let port: number;
  useFakeGateway({ REQUEST_RECEIVE_TIMEOUT_MS: String(TIMEOUT) }, (g) => {
    gw = g;
    port = portOf(g.url);
  });

  /** Sends `head` at once, then `trickle` one byte every `everyMs`; resolves when the server closes. */
  const dribble = (head: string, trickle: string, everyMs: number) =>
    new Promise<{ response: RawResponse; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
      let text = '';
      let i = 0;
      const timer = setInterval(() => {
        if (i < trickle.length && socket.writable) socket.write(trickle[i++]!);
      }, everyMs);
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ response: parseResponse(text, true), ms: Date.now() - started });
      });
      setTimeout(() => reject(new Error(`still open after 10 s: ${text}`)), 10_000).unref();
    });

  it('answers 408 and closes the connection when the body trickles in at 1 byte/s', async () => {
    const head =
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
      `content-type: application/json\r\ncontent-length: ${chatBody.length}\r\n\r\n`;
    const { response, ms } = await dribble(head, chatBody, 1_000);
    expect(response.status).toBe(408);
    expect(isOpenAIError(response, 'invalid_request_error', 'request_timeout')).toBe(true);
    expect(ms).toBeLessThan(TIMEOUT + 1_500);
    expect((await fetchJson(`${gw.url}/v1/processes`)).body.data).toEqual([]);
  });

  it('answers 408 when the head trickles in', async () => {
    const { response } = await dribble(`GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`, 'x-slow: 12345678901234567890\r\n\r\n', 1_000);
    expect(response.status).toBe(408);
    expect(isOpenAIError(response, 'invalid_request_error', 'request_timeout')).toBe(true);
  });

  it('does not bound the answer: completions slower than the timeout succeed, streamed or not', async () => {
    const started = Date.now();
    const slow = { model: 'sonnet', messages: [{ role: 'user' as const, content: 'FAKE_SLOW_STREAM' }] };
    const plain = await gw.openai.chat.completions.create(slow);
    expect(Date.now() - started).toBeGreaterThan(TIMEOUT);
    expect(plain.choices[0]!.message.content).toContain('tok9');
    const stream = await gw.openai.chat.completions.create({ ...slow, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toContain('tok9');
  });

  it('does not bound idle keep-alive connections or WebSockets', async () => {
    const socket = await openEvents(gw.url);
    const request = `GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`;
    const conn = net.connect(port, '127.0.0.1');
    let text = '';
    conn.setEncoding('utf8');
    conn.on('data', (d: string) => (text += d));
    try {
      conn.write(request);
      await sleep(TIMEOUT * 3);
      conn.write(request);
      await sleep(200);
      expect(text.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
      expect(socket.ws.readyState).toBe(socket.ws.OPEN);
      await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('after the wait') });
      await socket.next((e) => e.type === 'PROCESS_COMPLETE');
    } finally {
      conn.destroy();
      await socket.close();
    }
  });
});

describe('refusals Node or ws would answer in their own shape', () => {
  let port: number;
  useFakeGateway({}, (g) => {
    port = portOf(g.url);
  });

  it('answers bad WebSocket handshakes with a JSON 400', async () => {
    const bad: Record<string, string>[] = [
      { 'sec-websocket-key': 'not-a-key' },
      { 'sec-websocket-key': 'c2hvcnQ=' },
      { 'sec-websocket-version': '99' },
      { 'sec-websocket-version': '' },
      { upgrade: 'h2c' },
      { 'sec-websocket-protocol': 'chat,,chat' },
    ];
    for (const change of bad) {
      const res = await rawRequest(port, { target: '/v1/events', headers: { ...upgradeHeaders(), ...change } });
      expect(res.status, JSON.stringify(change)).toBe(400);
      expect(isOpenAIError(res, 'invalid_request_error'), JSON.stringify(change)).toBe(true);
      expect(res.closed).toBe(true);
    }
  });

  it('refuses an upgrade to a route that is no WebSocket endpoint before upgrading', async () => {
    for (const [method, target] of [['GET', '/health'], ['GET', '/v1/models'], ['POST', '/v1/chat/completions']] as const) {
      const res = await rawRequest(port, { method, target, headers: upgradeHeaders() });
      expect(res.status, target).toBe(400);
      expect(isOpenAIError(res, 'invalid_request_error', 'websocket_not_supported')).toBe(true);
    }
  });

  it('answers an unsupported Expect with a JSON 417, and still honours 100-continue', async () => {
    const res = await rawRequest(port, { target: '/v1/models', headers: { expect: 'teapot' } });
    expect(res.status).toBe(417);
    expect(isOpenAIError(res, 'invalid_request_error', 'expectation_failed')).toBe(true);

    const { text } = await new Promise<{ text: string }>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () =>
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\nexpect: 100-continue\r\n` +
            `content-type: application/json\r\ncontent-length: ${chatBody.length}\r\n\r\n`,
        ),
      );
      let out = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        if (!out && d.startsWith('HTTP/1.1 100')) socket.write(chatBody);
        out += d;
      });
      socket.on('close', () => resolve({ text: out }));
    });
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(text).toContain('HTTP/1.1 200 OK');
  });
});
