// Routes of GATEWAY_CONFIG (ARCHITECTURE.md → "Providers, routes, cache and cost") driven end to end:
// the real gateway in-process (or as its own process, for start-up and SIGHUP), the official openai SDK
// as client, mock OpenAI-compatible upstreams (test/support/mock-openai.ts), the mock Anthropic API
// and the fake CLI. Retries, Retry-After, fallback, cooldowns, streams, attribution headers, process
// records and PROCESS_RETRY events.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { localProviders } from '../support/gateway-config.js';
import { type TestGateway, FAKE_CLAUDE, startGateway, tempDir } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { type MockOpenAI, type MockOpenAIReply, startMockOpenAI } from '../support/mock-openai.js';
import { type EventSocket, fetchJson, openEvents, sleep, waitFor, waitForStatus } from '../support/process-helpers.js';
import { runGatewayToExit, spawnGateway } from '../support/spawn-gateway.js';

/** Small backoffs: the tests wait for nothing they do not measure. */
const FAST_RETRY = { attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 100 };
const OVERLOADED: MockOpenAIReply = { kind: 'error', status: 529, message: 'mock overloaded' };

/** Stopped after each test, last started first. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of cleanups.splice(0).reverse()) await stop();
});

interface Setup {
  gw: TestGateway;
  /** Behind provider `local` (targets `local/<model>`). */
  a: MockOpenAI;
  /** Behind provider `local2`. */
  b: MockOpenAI;
  anthropic?: MockUpstream;
  file: string;
}

/** Two providers (local → mock a, local2 → mock b) plus `config`, a gateway on it with the fake CLI. */
async function setup(
  config: Record<string, unknown>,
  opts: { env?: Record<string, string>; anthropic?: boolean; pool?: boolean; providers?: Record<string, unknown> } = {},
): Promise<Setup> {
  const dir = tempDir('gw-routes-');
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const a = await startMockOpenAI();
  cleanups.push(() => a.close());
  const b = await startMockOpenAI();
  cleanups.push(() => b.close());
  let anthropic: MockUpstream | undefined;
  if (opts.anthropic) {
    const mock = await startMockAnthropic();
    cleanups.push(() => mock.close());
    anthropic = mock;
  }
  const file = path.join(dir, 'gateway.json');
  writeFileSync(
    file,
    JSON.stringify({
      providers: { ...localProviders(a, b), ...opts.providers },
      retry: FAST_RETRY,
      ...config,
    }),
  );
  const gw = await startGateway({
    fake: true,
    mock: anthropic,
    env: { GATEWAY_CONFIG: file, POOL_SIZE: opts.pool ? '1' : '0', ...opts.env },
    parentEnv: { LOCAL_KEY: 'sk-local-a', LOCAL2_KEY: 'sk-local-b' },
  });
  cleanups.push(() => gw.close());
  return { gw, a, b, anthropic, file };
}

async function subscribe(gw: TestGateway, query: Record<string, string> = {}): Promise<EventSocket> {
  const sub = await openEvents(gw.url, query);
  cleanups.push(() => sub.close());
  return sub;
}

const user = (content: string): OpenAI.Chat.Completions.ChatCompletionMessageParam[] => [{ role: 'user', content }];

/** A chat completion through the SDK, with the answer's headers. */
async function ask(gw: TestGateway, model: string, content = 'hello route') {
  const { data, response } = await gw.openai.chat.completions.create({ model, messages: user(content) }).withResponse();
  return {
    data,
    content: data.choices[0]!.message.content,
    served: response.headers.get('x-gateway-model'),
    attempts: response.headers.get('x-gateway-attempts'),
    processId: response.headers.get('x-process-id')!,
  };
}

/** A port nothing listens on (connections refused). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The `data:` payloads of an SSE body, parsed (`[DONE]` kept as the string). */
function sseData(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

describe('fallback after retries', () => {
  it('a target that answers 529 is tried `attempts` times, then the next target serves; headers, record and PROCESS_RETRY events say so', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    const sub = await subscribe(gw, { types: 'PROCESS_RETRY' });
    a.script([OVERLOADED, OVERLOADED, OVERLOADED, OVERLOADED]);
    b.script([{ text: 'from b' }]);

    const res = await ask(gw, 'smart');
    expect(res.content).toBe('from b');
    expect(res.data.model).toBe('smart');
    expect(res.served).toBe('local2/b');
    expect(res.attempts).toBe('4');

    // exactly `attempts` requests on the first upstream, one on the second, each with its own model and key
    expect(a.requests).toHaveLength(3);
    expect(a.requests.map((r) => r.body.model)).toEqual(['a', 'a', 'a']);
    expect(a.requests[0]!.headers.authorization).toBe('Bearer sk-local-a');
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0]!.body.model).toBe('b');
    expect(b.requests[0]!.headers.authorization).toBe('Bearer sk-local-b');

    const record = await waitForStatus(gw.url, res.processId, ['completed']);
    const overloaded = expect.objectContaining({ code: 'upstream_overloaded' });
    expect(record.attempts).toEqual([
      { target: 'local/a', error: overloaded },
      { target: 'local/a', error: overloaded },
      { target: 'local/a', error: overloaded },
      { target: 'local2/b' },
    ]);

    const retries: any[] = await waitFor(() => {
      const mine = sub.events.filter((e) => e.process_id === res.processId);
      return mine.length >= 3 ? mine : undefined;
    });
    expect(retries).toHaveLength(3);
    expect(retries.map((e) => [e.type, e.target, e.next_target, e.error.code])).toEqual([
      ['PROCESS_RETRY', 'local/a', 'local/a', 'upstream_overloaded'],
      ['PROCESS_RETRY', 'local/a', 'local/a', 'upstream_overloaded'],
      ['PROCESS_RETRY', 'local/a', 'local2/b', 'upstream_overloaded'],
    ]);
    // backoffs within the policy (max_backoff_ms 100); none before the next target
    for (const e of retries.slice(0, 2)) {
      expect(e.delay_ms).toBeGreaterThanOrEqual(0);
      expect(e.delay_ms).toBeLessThanOrEqual(100);
    }
    expect(retries[2].delay_ms).toBe(0);
    expect(retries.every((e) => e.model === 'smart' && e.status === 'running')).toBe(true);
  });

  it('a target that hangs is cut at its share of REQUEST_TIMEOUT_MS and the next one answers within the deadline', async () => {
    const { gw, a, b } = await setup(
      {
        models: {
          // one try per target: the first try gets half the deadline (two targets)
          once: { targets: ['local/a', 'local2/b'], retry: { attempts: 1 } },
          // the route's own per-try deadline
          quick: { targets: ['local/a', 'local2/b'], retry: { attempts: 1 }, timeout_ms: 300 },
        },
      },
      { env: { REQUEST_TIMEOUT_MS: '3000' } },
    );
    a.script([{ kind: 'hang' }]);
    b.script([{ text: 'rescued' }]);
    const started = Date.now();
    const res = await ask(gw, 'once');
    const elapsed = Date.now() - started;
    expect(res.content).toBe('rescued');
    expect(res.served).toBe('local2/b');
    expect(res.attempts).toBe('2');
    expect(elapsed).toBeLessThan(3000);
    // the hanging try was cut at ~1.5 s (3000 ms / 2 targets), not before
    const cutAfter = b.requests[0]!.at - a.requests[0]!.at;
    expect(cutAfter).toBeGreaterThanOrEqual(1400);
    expect(cutAfter).toBeLessThan(3000);
    const record = await waitForStatus(gw.url, res.processId, ['completed']);
    expect(record.attempts).toEqual([{ target: 'local/a', error: expect.objectContaining({ code: 'upstream_timeout' }) }, { target: 'local2/b' }]);
    // the gateway let go of the hung upstream connection
    await waitFor(() => a.active() === 0, { what: 'the hung connection to be closed' });

    a.script([{ kind: 'hang' }]);
    b.script([{ text: 'quick rescue' }]);
    const quick = await ask(gw, 'quick');
    expect(quick.content).toBe('quick rescue');
    const quickCut = b.requests[1]!.at - a.requests[1]!.at;
    expect(quickCut).toBeGreaterThanOrEqual(250);
    expect(quickCut).toBeLessThan(1400);
  });

  it('with the default 3 tries, a hanging first target still leaves the next one time to answer within the deadline', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } }, { env: { REQUEST_TIMEOUT_MS: '3000' } });
    a.script([{ kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' }]);
    b.script([{ text: 'late rescue' }]);
    const started = Date.now();
    const res = await ask(gw, 'smart');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.content).toBe('late rescue');
    expect(res.served).toBe('local2/b');
    const record = await waitForStatus(gw.url, res.processId, ['completed']);
    expect(record.attempts.at(-1)).toEqual({ target: 'local2/b' });
    expect(record.attempts.slice(0, -1).every((t: any) => t.target === 'local/a' && t.error.code === 'upstream_timeout')).toBe(true);
    expect(a.requests.length).toBe(record.attempts.length - 1);
  });

  it('honours Retry-After as a floor before trying the same target again; one above max_backoff_ms moves on at once', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'], retry: { max_backoff_ms: 2000 } } } });
    const sub = await subscribe(gw, { types: 'PROCESS_RETRY' });
    a.script([{ kind: 'error', status: 429, headers: { 'retry-after': '1' } }, { text: 'after the wait' }]);
    const res = await ask(gw, 'smart');
    expect(res.content).toBe('after the wait');
    expect(res.served).toBe('local/a');
    expect(res.attempts).toBe('2');
    expect(a.requests).toHaveLength(2);
    expect(a.requests[1]!.at - a.requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(b.requests).toHaveLength(0);
    const retry = await sub.next((e) => e.process_id === res.processId);
    expect(retry).toMatchObject({ target: 'local/a', next_target: 'local/a', error: { code: 'upstream_rate_limited' } });
    expect(retry.delay_ms).toBeGreaterThanOrEqual(1000);
    const record = await waitForStatus(gw.url, res.processId, ['completed']);
    expect(record.attempts).toEqual([{ target: 'local/a', error: expect.objectContaining({ code: 'upstream_rate_limited' }) }, { target: 'local/a' }]);

    // "not soon": the next target rather than a 30 s wait
    a.script([{ kind: 'error', status: 429, headers: { 'retry-after': '30' } }]);
    b.script([{ text: 'not waiting' }]);
    const started = Date.now();
    const moved = await ask(gw, 'smart');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(moved.content).toBe('not waiting');
    expect(moved.served).toBe('local2/b');
    expect(moved.attempts).toBe('2');
    expect(a.requests).toHaveLength(3);
  });

  it('a 400 of the upstream is answered at once as a 400 with its message: no retry, no fallback', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([{ kind: 'error', status: 400, message: 'the prompt is malformed XYZ' }]);
    const err = await ask(gw, 'smart').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('the prompt is malformed XYZ');
    expect(bad.headers?.get('x-gateway-model')).toBe('local/a');
    expect(bad.headers?.get('x-gateway-attempts')).toBe('1');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    const record = await waitForStatus(gw.url, bad.headers!.get('x-process-id')!, ['failed']);
    expect(record.attempts).toEqual([{ target: 'local/a', error: expect.objectContaining({ code: 'upstream_invalid_request' }) }]);

    // a bad request says nothing of the upstream: no cooldown however many (default failures: 3)
    a.script([400, 400, 400].map((status) => ({ kind: 'error' as const, status })));
    for (let i = 0; i < 3; i++) expect(await ask(gw, 'smart').catch((e: unknown) => (e as { status?: number }).status)).toBe(400);
    a.script([{ text: 'a is fine' }]);
    const ok = await ask(gw, 'smart');
    expect([ok.served, ok.attempts, ok.content]).toEqual(['local/a', '1', 'a is fine']);
    expect(b.requests).toHaveLength(0);
  });

  it('when every target fails, the last failure is the answer; the record lists every try', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([OVERLOADED, OVERLOADED, OVERLOADED]);
    b.script([OVERLOADED, OVERLOADED, { kind: 'error', status: 500, message: 'b is broken too' }]);
    const err = await ask(gw, 'smart').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const failed = err as InstanceType<typeof OpenAI.APIError>;
    expect(failed.status).toBe(502); // an upstream's 500 is the gateway's 502
    expect(failed.message).toContain('b is broken too');
    expect(failed.headers?.get('x-gateway-model')).toBe('local2/b');
    expect(failed.headers?.get('x-gateway-attempts')).toBe('6');
    expect([a.requests.length, b.requests.length]).toEqual([3, 3]);
    const record = await waitForStatus(gw.url, failed.headers!.get('x-process-id')!, ['failed']);
    expect(record.attempts.map((t: any) => [t.target, t.error?.code])).toEqual([
      ['local/a', 'upstream_overloaded'],
      ['local/a', 'upstream_overloaded'],
      ['local/a', 'upstream_overloaded'],
      ['local2/b', 'upstream_overloaded'],
      ['local2/b', 'upstream_overloaded'],
      ['local2/b', 'upstream_server_error'],
    ]);
    expect(record.error).toMatchObject({ code: 'upstream_server_error' });
  });

  it('an auth failure (401) is not retried on its target but falls back to the next', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([{ kind: 'error', status: 401, message: 'bad key' }]);
    b.script([{ text: 'b has a key' }]);
    const res = await ask(gw, 'smart');
    expect(res.content).toBe('b has a key');
    expect(res.served).toBe('local2/b');
    expect(res.attempts).toBe('2');
    expect(a.requests).toHaveLength(1);
    const record = await waitForStatus(gw.url, res.processId, ['completed']);
    expect(record.attempts).toEqual([{ target: 'local/a', error: expect.objectContaining({ code: 'upstream_authentication_error' }) }, { target: 'local2/b' }]);
  });
});

describe('cooldown', () => {
  it('a target that failed `failures` times in a row is skipped by routes (503s and refused connections alike)', async () => {
    const dead = await closedPort();
    const { gw, a, b } = await setup(
      {
        cooldown: { failures: 2, seconds: 60 },
        models: {
          smart: { targets: ['local/a', 'local2/b'], retry: { attempts: 1 } },
          deadfirst: { targets: ['dead/x', 'local2/b'], retry: { attempts: 1 } },
          solo: { targets: ['local/a'] },
        },
      },
      { providers: { dead: { type: 'openai-compatible', base_url: `http://127.0.0.1:${dead}/v1` } } },
    );
    a.script([
      { kind: 'error', status: 503 },
      { kind: 'error', status: 503 },
    ]);
    const served: [string | null, string | null][] = [];
    for (let i = 0; i < 3; i++) {
      const r = await ask(gw, 'smart', `cooldown ${i}`);
      expect(r.content).toBe('ok');
      served.push([r.served, r.attempts]);
    }
    expect(served).toEqual([
      ['local2/b', '2'],
      ['local2/b', '2'],
      ['local2/b', '1'],
    ]);
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(3);

    const deadServed: [string | null, string | null][] = [];
    let firstDead: string | undefined;
    for (let i = 0; i < 3; i++) {
      const r = await ask(gw, 'deadfirst', `dead ${i}`);
      firstDead ??= r.processId;
      deadServed.push([r.served, r.attempts]);
    }
    expect(deadServed).toEqual([
      ['local2/b', '2'],
      ['local2/b', '2'],
      ['local2/b', '1'],
    ]);
    const record = await waitForStatus(gw.url, firstDead!, ['completed']);
    expect(record.attempts[0]).toEqual({ target: 'dead/x', error: expect.objectContaining({ code: 'upstream_unreachable' }) });

    // every target of `solo` is cooling: it is tried anyway, and its success ends its cooldown
    const solo = await ask(gw, 'solo', 'only a');
    expect(solo.served).toBe('local/a');
    expect(a.requests).toHaveLength(3);
    const again = await ask(gw, 'smart', 'a is back');
    expect([again.served, again.attempts]).toEqual(['local/a', '1']);
  });

  it('after `seconds` the target is tried again (half-open): one failure opens it again, one success closes it', async () => {
    const { gw, a } = await setup({
      cooldown: { failures: 2, seconds: 0.5 },
      models: { smart: { targets: ['local/a', 'local2/b'], retry: { attempts: 1 } } },
    });
    a.script([
      { kind: 'error', status: 503 },
      { kind: 'error', status: 503 },
      { kind: 'error', status: 503 },
    ]);
    const step = async () => {
      const r = await ask(gw, 'smart');
      return [r.served, r.attempts, a.requests.length];
    };
    expect(await step()).toEqual(['local2/b', '2', 1]);
    expect(await step()).toEqual(['local2/b', '2', 2]);
    expect(await step()).toEqual(['local2/b', '1', 2]);
    await sleep(700);
    // half-open: tried, fails, cooling again at once
    expect(await step()).toEqual(['local2/b', '2', 3]);
    expect(await step()).toEqual(['local2/b', '1', 3]);
    await sleep(700);
    // a answers now (its queue is empty: 'ok'): closed again
    expect(await step()).toEqual(['local/a', '1', 4]);
    expect(await step()).toEqual(['local/a', '1', 5]);
  });
});

describe('streaming through a route', () => {
  it('falls back before the first delta: the SDK stream gets the second target deltas and headers', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([OVERLOADED, OVERLOADED, OVERLOADED]);
    b.script([{ text: ['Hel', 'lo', ' there'] }]);
    const { data: stream, response } = await gw.openai.chat.completions
      .create({ model: 'smart', stream: true, messages: user('stream me') })
      .withResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-gateway-model')).toBe('local2/b');
    expect(response.headers.get('x-gateway-attempts')).toBe('4');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello there');
    expect(a.requests).toHaveLength(3);
    expect(b.requests).toHaveLength(1);
    const record = await waitForStatus(gw.url, response.headers.get('x-process-id')!, ['completed']);
    expect(record.attempts.map((t: any) => t.target)).toEqual(['local/a', 'local/a', 'local/a', 'local2/b']);
  });

  it('a stream under way is not cut at its try\'s share of the deadline (nothing else could be tried): only the request deadline bounds it', async () => {
    // three targets: a try gets a third of REQUEST_TIMEOUT_MS (~1333 ms); the stream takes ~1750 ms
    const { gw, a } = await setup(
      {
        models: {
          three: { targets: ['local/a', 'local2/b', 'local2/c'] },
          capped: { targets: ['local/a', 'local2/b'], timeout_ms: 300 },
        },
      },
      { env: { REQUEST_TIMEOUT_MS: '4000' } },
    );
    const words = ['one ', 'two ', 'three ', 'four ', 'five ', 'six ', 'seven ', 'eight'];
    const streamed = async (model: string) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: user('a long answer') }),
      });
      const events = sseData(await res.text()) as any[];
      return {
        served: res.headers.get('x-gateway-model'),
        text: events.flatMap((e) => (typeof e === 'object' && e.choices ? [e.choices[0]?.delta?.content ?? ''] : [])).join(''),
        last: events.at(-1),
      };
    };
    a.script([{ text: words, chunkDelayMs: 250 }]);
    const long = await streamed('three');
    expect(long.served).toBe('local/a');
    expect(long.last).toBe('[DONE]');
    expect(long.text).toBe(words.join(''));
    // the route's own timeout_ms: a deadline to start answering in, not a cap on an answer under way
    a.script([{ text: words.slice(0, 5), chunkDelayMs: 200 }]);
    const capped = await streamed('capped');
    expect(capped.last).toBe('[DONE]');
    expect(capped.text).toBe(words.slice(0, 5).join(''));
  });

  it('a failure before anything was sent, with no fallback, is a plain JSON error with its status', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([{ kind: 'error', status: 400, message: 'no such thing' }]);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'smart', stream: true, messages: user('stream a bad one') }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as any;
    expect(body.error.message).toContain('no such thing');
    expect(b.requests).toHaveLength(0);
  });

  it('a stream that fails after its first delta is not retried: the SSE ends with an error event, the record fails with one attempt', async () => {
    const { gw, a, b } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] } } });
    a.script([{ kind: 'stream_error', text: 'partial ', message: 'exploded mid-stream' }]);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'smart', stream: true, messages: user('stream then fail') }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-model')).toBe('local/a');
    expect(res.headers.get('x-gateway-attempts')).toBe('1');
    const events = sseData(await res.text()) as any[];
    const content = events.flatMap((e) => (typeof e === 'object' && e.choices ? [e.choices[0]?.delta?.content ?? ''] : [])).join('');
    expect(content).toBe('partial ');
    const last = events.at(-1);
    expect(last.error).toBeDefined();
    expect(last.error.message).toContain('exploded mid-stream');
    expect(events).not.toContain('[DONE]');
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    const record = await waitForStatus(gw.url, res.headers.get('x-process-id')!, ['failed']);
    expect(record.attempts).toHaveLength(1);
    expect(record.attempts[0]).toMatchObject({ target: 'local/a', error: { message: expect.stringContaining('exploded mid-stream') } });

    // the SDK sees the same stream end in an error
    a.script([{ kind: 'stream_error', text: 'partial ', message: 'exploded again' }]);
    const stream = await gw.openai.chat.completions.create({ model: 'smart', stream: true, messages: user('stream then fail again') });
    let text = '';
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('partial ');
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as Error).message).toContain('exploded again');
    expect(b.requests).toHaveLength(0);
  });
});

describe('routes over the Anthropic API and the Claude CLI', () => {
  it('falls back from anthropic/… (529) and from claude-cli/… (overloaded, tried once) to local/m', async () => {
    const { gw, a, anthropic } = await setup(
      {
        models: {
          anth: { targets: ['anthropic/claude-sonnet-4-5', 'local/m'] },
          cli: { targets: ['claude-cli/sonnet', 'local/m'] },
        },
      },
      { anthropic: true, pool: true },
    );
    mkdirSync(gw.home, { recursive: true }); // where the fake CLI counts its overloaded turns
    anthropic!.on('ANTH_OVERLOADED', { kind: 'error', status: 529 });
    a.script([{ text: 'local saves anthropic' }, { text: 'local saves the cli' }]);

    const viaApi = await ask(gw, 'anth', 'ANTH_OVERLOADED please');
    expect(viaApi.content).toBe('local saves anthropic');
    expect(viaApi.served).toBe('local/m');
    expect(viaApi.attempts).toBe('4');
    expect(anthropic!.messageRequests().filter((r) => r.lastUserText.includes('ANTH_OVERLOADED'))).toHaveLength(3);
    expect(a.requests[0]!.body.model).toBe('m');
    const apiRecord = await waitForStatus(gw.url, viaApi.processId, ['completed']);
    expect(apiRecord.attempts.map((t: any) => [t.target, t.error?.code])).toEqual([
      ['anthropic/claude-sonnet-4-5', 'upstream_overloaded'],
      ['anthropic/claude-sonnet-4-5', 'upstream_overloaded'],
      ['anthropic/claude-sonnet-4-5', 'upstream_overloaded'],
      ['local/m', undefined],
    ]);

    const sub = await subscribe(gw, { types: 'PROCESS_RETRY' });
    const viaCli = await ask(gw, 'cli', 'FAKE_OVERLOADED please');
    expect(viaCli.content).toBe('local saves the cli');
    expect(viaCli.served).toBe('local/m');
    expect(viaCli.attempts).toBe('2');
    const cliRecord = await waitForStatus(gw.url, viaCli.processId, ['completed']);
    expect(cliRecord.attempts).toEqual([
      { target: 'claude-cli/sonnet', error: expect.objectContaining({ code: 'upstream_overloaded' }) },
      { target: 'local/m' },
    ]);
    const retry = await sub.next((e) => e.process_id === viaCli.processId);
    expect(retry).toMatchObject({ target: 'claude-cli/sonnet', next_target: 'local/m', delay_ms: 0 });
    // the CLI ran the turn once: its own retries are bounded by CLAUDE_CODE_MAX_RETRIES instead
    const counter = path.join(gw.home, 'fake-claude-overloaded.count');
    expect(existsSync(counter)).toBe(true);
    expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(1);
    const env = await ask(gw, 'claude-cli/sonnet', 'FAKE_ENV');
    expect(JSON.parse(env.content!).CLAUDE_CODE_MAX_RETRIES).toBe(String(FAST_RETRY.attempts - 1));
  });
});

describe('/v1/models', () => {
  it('lists the routes, owned by "gateway", and answers one by name', async () => {
    const { gw } = await setup({ models: { smart: { targets: ['local/a', 'local2/b'] }, cheap: { targets: ['local2/b'] } } });
    const list = await gw.openai.models.list();
    const routes = list.data.filter((m) => m.id === 'smart' || m.id === 'cheap');
    expect(routes.map((m) => [m.id, m.object, m.owned_by]).sort()).toEqual([
      ['cheap', 'model', 'gateway'],
      ['smart', 'model', 'gateway'],
    ]);
    const smart = await gw.openai.models.retrieve('smart');
    expect(smart).toMatchObject({ id: 'smart', object: 'model', owned_by: 'gateway' });
  });
});

describe('GATEWAY_CONFIG routes in the real process', () => {
  it('refuses to start (exit 2) on a route to an undeclared provider, an unknown field, or a target no provider serves', async () => {
    const dir = tempDir('gw-routes-bad-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, config: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, JSON.stringify(config));
      return file;
    };
    const undeclared = write('undeclared.json', { models: { smart: { targets: ['nowhere/m', 'claude-cli/sonnet'] } } });
    const unknownField = write('unknown.json', { retires: { attempts: 2 } });
    // valid as written, but no Anthropic credential in the environment: nothing serves anthropic/…
    const unserved = write('unserved.json', { models: { smart: { targets: ['claude-cli/sonnet', 'anthropic/claude-sonnet-4-5'] } } });
    const run = (file: string, sub: string) =>
      runGatewayToExit({ GATEWAY_CONFIG: file, DATA_DIR: path.join(dir, sub), CLAUDE_WORKDIR: path.join(dir, `${sub}-ws`), CLAUDE_BIN: FAKE_CLAUDE, POOL_SIZE: '0' });
    const [u, k, s] = await Promise.all([run(undeclared, 'u'), run(unknownField, 'k'), run(unserved, 's')]);

    expect(u.code).toBe(2);
    expect(u.output).toContain(undeclared);
    expect(u.output).toContain('models.smart.targets[0]');
    expect(u.output).toContain('nowhere');

    expect(k.code).toBe(2);
    expect(k.output).toContain(unknownField);
    expect(k.output).toMatch(/retires: unknown field/);

    expect(s.code).toBe(2);
    expect(s.output).toContain(unserved);
    expect(s.output).toContain('models.smart.targets[1]');
  });

  it('takes new routes on SIGHUP; a broken file keeps the old ones and the log says why', async () => {
    const dir = tempDir('gw-routes-hup-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const up = await startMockOpenAI();
    cleanups.push(() => up.close());
    const file = path.join(dir, 'gateway.yaml');
    const providers = `providers:\n  local:\n    type: openai-compatible\n    base_url: ${up.url}\n    api_key_env: LOCAL_KEY\n`;
    writeFileSync(file, `${providers}models:\n  first:\n    targets: [local/one]\n`);
    const running = await spawnGateway({
      GATEWAY_CONFIG: file,
      LOCAL_KEY: 'sk-hup',
      DATA_DIR: path.join(dir, 'data'),
      CLAUDE_WORKDIR: path.join(dir, 'ws'),
      CLAUDE_BIN: FAKE_CLAUDE,
      POOL_SIZE: '0',
    });
    cleanups.push(() => running.stop('SIGKILL'));
    const chat = (model: string) => fetchJson(`${running.url}/v1/chat/completions`, { body: { model, messages: user('hup') } });

    up.script([{ text: 'first route' }]);
    const before = await chat('first');
    expect(before.status).toBe(200);
    expect(before.body.choices[0].message.content).toBe('first route');
    expect(before.headers.get('x-gateway-model')).toBe('local/one');
    expect((await chat('second')).status).toBe(404);

    writeFileSync(file, `${providers}models:\n  second:\n    targets: [local/two]\n`);
    running.child.kill('SIGHUP');
    await waitFor(() => running.output().includes('configuration and API keys reloaded'), { what: 'the reload' });
    up.script([{ text: 'second route' }]);
    const after = await chat('second');
    expect(after.status).toBe(200);
    expect(after.body.choices[0].message.content).toBe('second route');
    expect(after.headers.get('x-gateway-model')).toBe('local/two');
    expect(up.requests.at(-1)!.body.model).toBe('two');
    expect((await chat('first')).status).toBe(404);

    writeFileSync(file, `${providers}retires: {attempts: 2}\nmodels:\n  third:\n    targets: [nowhere/m]\n`);
    running.child.kill('SIGHUP');
    await waitFor(() => running.output().includes('could not be reloaded'), { what: 'the refused reload' });
    const log = running.output().split('\n').find((l) => l.includes('could not be reloaded'))!;
    expect(log).toContain(file);
    expect(log).toContain('retires');
    expect(log).toContain('models.third.targets[0]');
    up.script([{ text: 'still second' }]);
    const kept = await chat('second');
    expect(kept.status).toBe(200);
    expect(kept.body.choices[0].message.content).toBe('still second');
    expect((await chat('third')).status).toBe(404);

    // valid as a file, but providers stay as started: a route to one declared since is refused too
    const added = `${providers}  later:\n    type: openai-compatible\n    base_url: ${up.url}\nmodels:\n  fourth:\n    targets: [later/m]\n`;
    writeFileSync(file, added);
    const refusals = () => running.output().split('\n').filter((l) => l.includes('could not be reloaded'));
    running.child.kill('SIGHUP');
    await waitFor(() => refusals().length === 2, { what: 'the second refused reload' });
    expect(refusals()[1]).toContain('models.fourth.targets[0]');
    expect((await chat('fourth')).status).toBe(404);
    up.script([{ text: 'second again' }]);
    expect((await chat('second')).body.choices[0].message.content).toBe('second again');
  });
});
