// Webhooks and in-process observers through the real gateway (the fake CLI answers): a local
// receiver on loopback that fails the first tries (a 500, then a hang past the timeout, then 200),
// one that always fails (the dead-letter file), one per key (each key's events only), a receiver that
// is down across a restart (the pending delivery arrives after it), and observer modules.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadGatewayConfig } from '../../src/gateway-config.js';
import { createLogger } from '../../src/http/logger.js';
import { JsonlFiles } from '../../src/stores/jsonl/jsonl-file.js';
import { JsonlWebhookStore } from '../../src/stores/jsonl/webhook-store.js';
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { prepareWebhooks } from '../../src/webhooks/webhooks.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { bearer, completion, fetchJson, killQuietly, openEvents, processesMatching, readPidFile, waitFor } from '../support/process-helpers.js';
import { type SpawnedGateway, spawnGateway } from '../support/spawn-gateway.js';

const SECRET = 'whsec-test-0123456789';
const FAST = { WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_BACKOFF_MS: '100', POOL_SIZE: '0' };

/** As README shows a receiver checking it: the HMAC-SHA256 of the raw body, compared in constant time. */
function verified(rawBody: string, header: string | undefined, secret = SECRET): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** What the receiver answered: a status, or 'hang'. */
  answer: number | 'hang';
}

/** A webhook receiver on loopback: `answer` decides per request; every request is kept. */
async function startReceiver(answer: (hit: Omit<Hit, 'answer'>, all: Hit[]) => number | 'hang') {
  const hits: Hit[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const a = answer(hit, hits);
      hits.push({ ...hit, answer: a });
      if (a === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(a, { 'content-type': 'text/plain' }).end(a >= 300 ? `receiver says ${a}` : 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    hits,
    /** The successful deliveries to a path. */
    delivered: (p: string) => hits.filter((h) => h.path === p && h.answer === 200),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const ask = (client: OpenAI, content: string) => client.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content }] });
const parsed = (h: Hit) => JSON.parse(h.body);
const ofProcess = (hits: Hit[], id: string) => hits.filter((h) => parsed(h).process_id === id);

/** The directories written for configs and observers: removed after the file's tests. */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('webhooks, per-key webhooks and observers', () => {
  let receiver: Receiver;
  let gw: TestGateway;
  let alice: OpenAI;
  let bob: OpenAI;
  /** The first delivery to /good is answered 500, then not at all (past the timeout), then 200. */
  let flakyId: string | undefined;
  const observed = (globalThis as { __webhookTestObserved?: unknown[][] }).__webhookTestObserved = [] as unknown[][];

  beforeAll(async () => {
    receiver = await startReceiver((hit, all) => {
      if (hit.path === '/dead') return 500;
      if (hit.path !== '/good') return 200;
      flakyId ??= hit.headers['x-gateway-delivery'] as string;
      if (hit.headers['x-gateway-delivery'] !== flakyId) return 200;
      const earlier = all.filter((h) => h.headers['x-gateway-delivery'] === flakyId).length;
      return earlier === 0 ? 500 : earlier === 1 ? 'hang' : 200;
    });
    const dir = tempDir('gw-hooks-cfg-');
    dirs.push(dir);
    // An observer that keeps what it sees (the test runs the gateway in its own process), and one that always throws.
    writeFileSync(
      path.join(dir, 'observer.mjs'),
      `export default { onEvent(event, raw) { globalThis.__webhookTestObserved.push([event, raw]); }, close() { globalThis.__webhookTestObserved.push(['closed']); } };\n`,
    );
    writeFileSync(path.join(dir, 'throws.mjs'), `export default function () { throw new Error('observer bug'); }\n`);
    const file = path.join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        keys: [
          { id: 'alice', key_env: 'ALICE_KEY', webhooks: [`${receiver.url}/alice`] },
          { id: 'bob', key_env: 'BOB_KEY', webhooks: [`${receiver.url}/bob`] },
        ],
        observers: ['./throws.mjs', './observer.mjs'],
      }),
    );
    gw = await startGateway({
      fake: true,
      env: { ...FAST, GATEWAY_CONFIG: file, WEBHOOK_URLS: `${receiver.url}/good,${receiver.url}/dead`, WEBHOOK_MAX_ATTEMPTS: '3' },
      parentEnv: { ALICE_KEY: 'sk-alice', BOB_KEY: 'sk-bob' },
    });
    alice = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-alice', maxRetries: 0 });
    bob = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-bob', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await receiver?.close();
    // Closed once, after the last event.
    expect(observed.filter(([e]) => e === 'closed')).toHaveLength(1);
    expect(observed.at(-1)).toEqual(['closed']);
    delete (globalThis as { __webhookTestObserved?: unknown }).__webhookTestObserved;
  });

  let aliceProcess: string;

  it('posts every event, signed, with its headers, retrying a 500 and a timeout with backoff, in event order', async () => {
    const answer = await ask(alice, 'hello hooks');
    aliceProcess = (answer as unknown as { process_id: string }).process_id;
    const delivered = await waitFor(() => {
      const got = ofProcess(receiver.delivered('/good'), aliceProcess);
      return got.some((h) => parsed(h).type === 'PROCESS_COMPLETE') ? got : undefined;
    }, { timeoutMs: 10_000, what: 'the events at /good' });

    // Every event of the process, once each, in seq order, although the first one needed three tries.
    const seqs = delivered.map((h) => parsed(h).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(delivered.map((h) => parsed(h).type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);
    for (const h of delivered) {
      expect(verified(h.body, h.headers['x-gateway-signature'] as string)).toBe(true);
      expect(verified(h.body, h.headers['x-gateway-signature'] as string, 'another secret')).toBe(false);
      expect(h.headers['content-type']).toBe('application/json');
      expect(h.headers['x-gateway-event']).toBe(parsed(h).type);
      expect(h.headers['x-gateway-delivery']).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Unique per delivery: across events, and across receivers of the same event.
    const ids = receiver.hits.filter((h) => h.answer === 200).map((h) => h.headers['x-gateway-delivery']);
    expect(new Set(ids).size).toBe(ids.length);

    // The first delivery: 500, a hang cut at 300 ms, then 200; the same id, body and signature each time.
    const tries = receiver.hits.filter((h) => h.headers['x-gateway-delivery'] === flakyId);
    expect(tries.map((h) => h.answer)).toEqual([500, 'hang', 200]);
    expect(tries.map((h) => h.headers['x-gateway-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(tries.map((h) => h.body)).size).toBe(1);
    expect(new Set(tries.map((h) => h.headers['x-gateway-signature'])).size).toBe(1);
    // Backoff 100 ms doubled, half of it jittered: ≥ 50 ms after the 500, ≥ 300 (timeout) + 100 after the hang
    // (less the hanging request's own way to the receiver).
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(50);
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(350);

    // The body is the event exactly as /v1/events sends it.
    const ws = await openEvents(gw.url, { since: 0, process_id: aliceProcess }, bearer('sk-alice'));
    try {
      await ws.next((e) => e.type === 'PROCESS_COMPLETE');
      expect(delivered.map((h) => h.body)).toEqual(ws.events.map((e) => JSON.stringify(e)));
    } finally {
      await ws.close();
    }
    expect(parsed(delivered[2]!).result.choices[0].message.content).toBeTruthy();
  });

  it("sends a key's webhooks only that key's events", async () => {
    const answer = await ask(bob, 'bob speaking');
    const bobProcess = (answer as unknown as { process_id: string }).process_id;
    await waitFor(() => receiver.delivered('/bob').some((h) => parsed(h).process_id === bobProcess && parsed(h).type === 'PROCESS_COMPLETE'), {
      what: "bob's events at /bob",
    });
    await waitFor(() => receiver.delivered('/alice').some((h) => parsed(h).type === 'PROCESS_COMPLETE'), { what: "alice's events at /alice" });
    const atBob = receiver.delivered('/bob').map(parsed);
    const atAlice = receiver.delivered('/alice').map(parsed);
    expect(atBob.every((e) => e.key_id === 'bob')).toBe(true);
    expect(atAlice.every((e) => e.key_id === 'alice')).toBe(true);
    expect(atAlice.map((e) => e.process_id)).toContain(aliceProcess);
    expect(atBob.map((e) => e.process_id)).not.toContain(aliceProcess);
    // WEBHOOK_URLS get everyone's.
    await waitFor(() => ofProcess(receiver.delivered('/good'), bobProcess).length === 3, { what: "bob's events at /good" });
  });

  it('puts a delivery whose tries run out in the dead-letter file, and counts it', async () => {
    const deadFile = path.join(gw.config.dataDir, 'webhooks-dead.jsonl');
    const letters = await waitFor(() => {
      const lines = readFileSync(deadFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      return lines.some((l) => l.process_id === aliceProcess && l.event_type === 'PROCESS_COMPLETE') ? lines : undefined;
    }, { timeoutMs: 10_000, what: 'the dead letters' });
    const letter = letters.find((l) => l.process_id === aliceProcess && l.event_type === 'PROCESS_COMPLETE');
    expect(letter).toMatchObject({ url: `${receiver.url}/dead`, reason: 'attempts_exhausted', key_id: 'alice' });
    expect(letter.failures).toHaveLength(3);
    expect(letter.failures[0]).toMatchObject({ status: 500, error: 'HTTP 500: receiver says 500' });
    expect(letter.last_error).toBe('HTTP 500: receiver says 500');
    expect(JSON.parse(letter.body)).toMatchObject({ type: 'PROCESS_COMPLETE', process_id: aliceProcess });
    expect(statSync(deadFile).mode & 0o777).toBe(0o600);
    // Three tries of each of its events reached /dead, and no more.
    expect(receiver.hits.filter((h) => h.path === '/dead' && parsed(h).process_id === aliceProcess)).toHaveLength(9);
    const stats = gw.webhooks.stats();
    expect(stats.dead).toBeGreaterThanOrEqual(3);
    expect(stats.delivered).toBeGreaterThanOrEqual(9);
    expect(stats.failed).toBeGreaterThanOrEqual(11);
  });

  it('hands every event to the observers, rendered and raw; one that throws breaks nothing', async () => {
    const seen = observed.filter(([e]) => (e as { process_id?: string }).process_id === aliceProcess);
    expect(seen.map(([e]) => (e as { type: string }).type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);
    const [message, raw] = seen[2] as [any, any];
    expect(message.result.object).toBe('chat.completion');
    expect(raw.result.text).toBeTruthy();
    expect(message.key_id).toBe('alice');
    // Bob's too: observers see every key's events.
    expect(observed.some(([e]) => (e as { key_id?: string }).key_id === 'bob')).toBe(true);
    // The gateway still answers.
    await expect(ask(alice, 'still fine')).resolves.toBeTruthy();
  });
});

describe('a pending delivery across a restart', () => {
  let receiver: Receiver;
  let up = false;
  const dir = tempDir('gw-hooks-restart-');
  dirs.push(dir);
  beforeAll(async () => {
    receiver = await startReceiver(() => (up ? 200 : 503));
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('is posted after the next start', async () => {
    const env = { ...FAST, WEBHOOK_URLS: `${receiver.url}/down`, WEBHOOK_EVENTS: 'PROCESS_COMPLETE', WEBHOOK_BACKOFF_MS: '50' };
    const first = await startGateway({ fake: true, dir, env });
    let processId: string;
    try {
      processId = ((await ask(first.openai, 'while the receiver is down')) as unknown as { process_id: string }).process_id;
      await waitFor(() => receiver.hits.length >= 2, { what: 'tries at a receiver that is down' });
      expect(first.webhooks.stats()).toMatchObject({ pending: 1, delivered: 0 });
    } finally {
      await first.close();
    }
    const failedTries = receiver.hits.length;
    const pendingFile = readFileSync(path.join(dir, 'data', 'webhooks-pending.jsonl'), 'utf8');
    expect(pendingFile).toContain(processId);

    up = true;
    const second = await startGateway({ fake: true, dir, env });
    try {
      const hit = await waitFor(() => receiver.delivered('/down')[0], { what: 'the delivery after the restart' });
      expect(parsed(hit)).toMatchObject({ type: 'PROCESS_COMPLETE', process_id: processId, status: 'completed' });
      expect(verified(hit.body, hit.headers['x-gateway-signature'] as string)).toBe(true);
      // The same delivery, its earlier tries counted.
      expect(new Set(receiver.hits.map((h) => h.headers['x-gateway-delivery'])).size).toBe(1);
      expect(hit.headers['x-gateway-attempt']).toBe(String(failedTries + 1));
      expect(second.webhooks.stats()).toMatchObject({ delivered: 1, pending: 0 });
      // Only this one: nothing posted twice.
      expect(receiver.delivered('/down')).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});

describe('a crash', () => {
  let receiver: Receiver;
  let crashed: SpawnedGateway | undefined;
  let gw: TestGateway | undefined;
  const dir = tempDir('gw-hooks-crash-');
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  beforeAll(async () => {
    receiver = await startReceiver(() => 200);
  });
  afterAll(async () => {
    await crashed?.stop('SIGKILL');
    // The killed gateway could not end its CLI: ours to end.
    killQuietly(readPidFile(path.join(home, 'fake-claude.pid')), true);
    killQuietly(readPidFile(path.join(home, 'fake-claude-grandchild.pid')));
    for (const pid of processesMatching(dir)) killQuietly(pid);
    await gw?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('posts the failure of the process it interrupted at the next start (the real entry point, SIGKILLed)', async () => {
    const env = { ...FAST, WEBHOOK_URLS: `${receiver.url}/crash`, WEBHOOK_EVENTS: 'PROCESS_STARTED,PROCESS_COMPLETE' };
    crashed = await spawnGateway({
      ...env,
      HOME: home,
      ANTHROPIC_API_KEY: 'sk-test',
      DATA_DIR: path.join(dir, 'data'),
      CLAUDE_WORKDIR: path.join(dir, 'workspace'),
      CLAUDE_BIN: FAKE_CLAUDE,
    });
    const bg = await fetchJson(`${crashed.url}/v1/chat/completions`, { body: completion('FAKE_HANG forever', { background: true }) });
    expect(bg.status).toBe(202);
    const started = await waitFor(() => receiver.delivered('/crash')[0], { timeoutMs: 10_000, what: 'PROCESS_STARTED from the spawned gateway' });
    expect(parsed(started)).toMatchObject({ type: 'PROCESS_STARTED', process_id: bg.body.id });
    expect(verified(started.body, started.headers['x-gateway-signature'] as string)).toBe(true);
    // Killed once the gateway noted the delivery (killed before, it would post it again: at least once).
    const pendingFile = path.join(dir, 'data', 'webhooks-pending.jsonl');
    await waitFor(() => readFileSync(pendingFile, 'utf8').includes('"op":"delivered"'), { what: 'the delivery noted' });
    expect(await crashed.stop('SIGKILL')).toBeNull();

    gw = await startGateway({ fake: true, dir, env });
    const complete = await waitFor(() => receiver.delivered('/crash').find((h) => parsed(h).type === 'PROCESS_COMPLETE'), { what: 'the PROCESS_COMPLETE after the restart' });
    expect(parsed(complete)).toMatchObject({ process_id: bg.body.id, status: 'failed', error: { code: 'gateway_restarted' } });
    // The earlier run's events are not posted again.
    expect(receiver.delivered('/crash').map((h) => parsed(h).type)).toEqual(['PROCESS_STARTED', 'PROCESS_COMPLETE']);
  });
});

describe('bounded memory', () => {
  it('sends the oldest deliveries beyond WEBHOOK_MAX_PENDING per URL to the dead-letter file, never the one in flight', async () => {
    const receiver = await startReceiver(() => 'hang');
    const dir = tempDir('gw-hooks-bound-');
    dirs.push(dir);
    const store = new JsonlWebhookStore(path.join(dir, 'pending.jsonl'), path.join(dir, 'dead.jsonl'), new JsonlFiles());
    await store.open();
    const settings = { secret: SECRET, maxAttempts: 8, timeoutMs: 5_000, backoffMs: 10, maxBackoffMs: 10, maxPending: 2 };
    const dispatcher = new WebhookDispatcher(settings, store, createLogger('silent'));
    try {
      const delivery = (n: number) => ({
        id: `d${n}`,
        url: `${receiver.url}/slow`,
        event_type: 'PROCESS_QUEUED' as const,
        seq: n,
        process_id: `p${n}`,
        key_id: null,
        body: JSON.stringify({ n }),
        queued_at: n,
      });
      dispatcher.enqueue(delivery(1));
      await waitFor(() => receiver.hits.length === 1, { what: 'the first delivery in flight' });
      for (let n = 2; n <= 5; n++) dispatcher.enqueue(delivery(n));
      // d1 is in flight (kept; it counts): each of d3, d4, d5 pushed the oldest waiting one out.
      expect(dispatcher.stats()).toMatchObject({ pending: 2, dead: 3 });
      const dead = await waitFor(() => {
        const lines = readFileSync(path.join(dir, 'dead.jsonl'), 'utf8').trim().split('\n');
        return lines.length === 3 ? lines.map((l) => JSON.parse(l)) : undefined;
      }, { what: 'three dead letters' });
      expect(dead.map((l) => [l.id, l.reason])).toEqual([['d2', 'queue_full'], ['d3', 'queue_full'], ['d4', 'queue_full']]);
    } finally {
      await dispatcher.close(0);
      await receiver.close();
    }
    // What was left is pending in the store: the one in flight and the newest.
    const reopened = new JsonlWebhookStore(path.join(dir, 'pending.jsonl'), path.join(dir, 'dead.jsonl'), new JsonlFiles());
    expect((await reopened.open()).map((d) => d.id)).toEqual(['d1', 'd5']);
    await reopened.close();
  });
});

describe('settings checked at start', () => {
  const log = createLogger('silent');

  it('refuses receivers without WEBHOOK_SECRET, naming it', async () => {
    const config = loadConfig({ WEBHOOK_URLS: 'http://127.0.0.1:9/hook' });
    await expect(prepareWebhooks(config, undefined, log)).rejects.toThrow(ConfigError);
    await expect(prepareWebhooks(config, undefined, log)).rejects.toThrow(/WEBHOOK_SECRET is not set/);
  });

  it('refuses a WEBHOOK_URLS entry that is not an http(s) URL, without echoing it', () => {
    expect(() => loadConfig({ WEBHOOK_URLS: 'http://127.0.0.1:9/ok,ftp://secret-token@x' })).toThrow('invalid WEBHOOK_URLS (entry 2): must be an http:// or https:// URL');
  });

  it('refuses an observer module that cannot be loaded or exports no observer', async () => {
    const dir = tempDir('gw-hooks-obs-');
    dirs.push(dir);
    writeFileSync(path.join(dir, 'nothing.mjs'), 'export const x = 1;\n');
    const file = path.join(dir, 'gateway.json');
    const withObservers = (observers: string[]) => {
      writeFileSync(file, JSON.stringify({ observers }));
      return loadGatewayConfig(file, {});
    };
    writeFileSync(file, '{}');
    const config = loadConfig({ GATEWAY_CONFIG: file });
    await expect(prepareWebhooks(config, withObservers(['./missing.mjs']), log)).rejects.toThrow(/observers\[0\] \(\.\/missing\.mjs\) could not be loaded/);
    await expect(prepareWebhooks(config, withObservers(['./nothing.mjs']), log)).rejects.toThrow(/default export must be a function/);
  });
});
