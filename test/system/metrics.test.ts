// GET /metrics (ARCHITECTURE.md → "Operations") after real completions: the fake CLI (pooled), the
// anthropic provider against the mock Anthropic API, a GATEWAY_CONFIG route whose first target
// answers 529 (mock OpenAI-compatible upstreams), the response cache, a WebSocket subscriber. The
// scrape is read back with a strict Prometheus text parser (test/support/metrics.ts); labels are
// checked to be bounded.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localProviders, writeGatewayConfig } from '../support/gateway-config.js';
import { type TestGateway, startGateway, tempDir, waitForWarmPool } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { type MockOpenAI, startMockOpenAI } from '../support/mock-openai.js';
import { type Scrape, labelValues, observations, samples, scrape, value } from '../support/metrics.js';
import { bearer, completion, fetchJson, openEvents, waitFor } from '../support/process-helpers.js';

const SECRET = 'secret-team-metrics';
const auth = bearer(SECRET);
const ANTHROPIC = 'anthropic/claude-sonnet-4-5';
const OVERLOADED = { kind: 'error', status: 529, message: 'mock overloaded' } as const;

let dir: string;
let anthropic: MockUpstream;
let a: MockOpenAI;
let b: MockOpenAI;
let gw: TestGateway;

beforeAll(async () => {
  dir = tempDir('gw-metrics-');
  anthropic = await startMockAnthropic();
  a = await startMockOpenAI();
  b = await startMockOpenAI();
  const file = writeGatewayConfig(dir, {
    providers: localProviders(a, b),
    models: { smart: { targets: ['local/a', 'local2/b'] } },
    retry: { attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50 },
    cooldown: { failures: 3, seconds: 60 },
  });
  gw = await startGateway({
    fake: true,
    mock: anthropic,
    env: { GATEWAY_CONFIG: file, GATEWAY_API_KEYS: `team:${SECRET}`, CACHE_TTL_S: '60', POOL_SIZE: '1' },
    parentEnv: { LOCAL_KEY: 'sk-a', LOCAL2_KEY: 'sk-b' },
  });
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([anthropic?.close(), a?.close(), b?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const chat = (body: unknown, headers: Record<string, string> = {}) => fetchJson(`${gw.url}/v1/chat/completions`, { body, headers: { ...auth, ...headers } });

describe('GET /metrics after real completions', () => {
  let s: Scrape;
  let cliProcessId: string;

  beforeAll(async () => {
    await waitForWarmPool(gw);
    // The CLI (pooled), twice, and a model it serves that /v1/models does not list.
    const cli = await chat(completion('hello metrics', { cache: false }));
    expect(cli.status).toBe(200);
    cliProcessId = cli.body.process_id;
    expect((await chat(completion('streamed metrics', { stream: true, cache: false }))).status).toBe(200);
    expect((await chat(completion('unlisted model', { model: 'claude-zeta-9', cache: false }))).status).toBe(200);
    // The Anthropic API: a miss, then the same request answered by the cache.
    anthropic.setDefault({ text: ['Hello ', 'from the API'], usage: { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 12 } });
    const miss = await chat(completion('cache me', { model: ANTHROPIC }));
    expect(miss.headers.get('x-cache')).toBe('miss');
    const hit = await chat(completion('cache me', { model: ANTHROPIC }));
    expect(hit.headers.get('x-cache')).toBe('hit');
    // The Messages API front door.
    const message = await fetchJson(`${gw.url}/v1/messages`, {
      body: { model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'hello messages' }] },
      headers: auth,
    });
    expect(message.status).toBe(200);
    // A route whose first target keeps answering 529: retried, cooled down, then the next one serves.
    a.script([OVERLOADED, OVERLOADED, OVERLOADED]);
    b.script([{ text: 'from b' }]);
    const routed = await chat(completion('route me', { model: 'smart' }));
    expect(routed.status).toBe(200);
    expect(routed.headers.get('x-gateway-model')).toBe('local2/b');
    // A 404 on a route with an id in its path.
    expect((await fetchJson(`${gw.url}/v1/processes/proc_${'0'.repeat(32)}`, { headers: auth })).status).toBe(404);
    // The usage and cost are counted once the processes' ends are recorded.
    await waitFor(async () => (await gw.app.gateway.stats()).running === 0);
    s = await scrape(gw.url);
  });

  it('is Prometheus text, open without a key like /health, with the default process metrics', () => {
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(s.families.has(name), name).toBe(true);
    }
    // The contract's names (ARCHITECTURE.md → "Operations"), with Prometheus's conventions.
    for (const name of [
      'gateway_http_requests_total',
      'gateway_http_request_duration_seconds',
      'gateway_completions_total',
      'gateway_time_to_first_token_seconds',
      'gateway_queue_depth',
      'gateway_processes',
      'gateway_pool_processes',
      'gateway_cli_spawn_seconds',
      'gateway_tokens_total',
      'gateway_cost_usd_total',
      'gateway_retries_total',
      'gateway_cache_requests_total',
      'gateway_webhook_deliveries_total',
    ]) {
      expect(s.families.has(name), name).toBe(true);
    }
    for (const f of s.families.values()) {
      if (!f.name.startsWith('gateway_')) continue;
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      if (f.type === 'histogram') expect(f.name).toMatch(/_seconds$/);
    }
  });

  it('counts HTTP requests by route template, method and status, with their duration', () => {
    expect(value(s, 'gateway_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(6);
    expect(value(s, 'gateway_http_requests_total', { route: '/v1/processes/:id', method: 'GET', status: '404' })).toBe(1);
    expect(value(s, 'gateway_http_requests_total', { route: '/v1/messages', method: 'POST', status: '200' })).toBe(1);
    expect(observations(s, 'gateway_http_request_duration_seconds', { route: '/v1/chat/completions', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(6);
    const routes = new Set(samples(s, 'gateway_http_requests_total').map((m) => m.labels.route));
    for (const route of routes) expect(route.startsWith('/') || route === 'unmatched', route).toBe(true);
    expect([...routes].some((r) => r.includes('proc_'))).toBe(false);
  });

  it('counts completions by front door, model, provider and final status', () => {
    const completed = (labels: Record<string, string>) => value(s, 'gateway_completions_total', { status: 'completed', ...labels });
    expect(completed({ front_door: 'chat_completions', model: 'sonnet', provider: 'claude-cli' })).toBe(2);
    expect(completed({ front_door: 'chat_completions', model: ANTHROPIC, provider: 'anthropic' })).toBe(2);
    expect(completed({ front_door: 'messages', model: 'sonnet', provider: 'claude-cli' })).toBe(1);
    expect(completed({ front_door: 'chat_completions', model: 'smart', provider: 'local2' })).toBe(1);
    // A model the gateway serves but does not list is not a label of its own.
    expect(completed({ model: 'other', provider: 'claude-cli' })).toBe(1);
    expect(samples(s, 'gateway_completions_total').some((m) => m.labels.model === 'claude-zeta-9')).toBe(false);
  });

  it('times first tokens, runs and queue waits by model', () => {
    expect(observations(s, 'gateway_time_to_first_token_seconds', { model: 'sonnet' })).toBeGreaterThanOrEqual(3);
    expect(observations(s, 'gateway_time_to_first_token_seconds', { model: ANTHROPIC })).toBe(1);
    expect(observations(s, 'gateway_run_duration_seconds', { model: 'sonnet', status: 'completed' })).toBe(3);
    expect(observations(s, 'gateway_queue_wait_seconds', { model: 'smart' })).toBe(1);
    const ttft = samples(s, 'gateway_time_to_first_token_seconds', { model: 'sonnet' })[0]!;
    expect(ttft.sum).toBeGreaterThan(0);
    expect(ttft.buckets!['+Inf']).toBe(ttft.count);
  });

  it('counts tokens and cost by model and key id; a cache hit counts its tokens, at no cost', () => {
    const tokens = (model: string, type: string) => value(s, 'gateway_tokens_total', { model, key_id: 'team', type });
    // Prompt tokens count cache reads: (40 + 12) for the miss, the same all cached for the hit.
    expect(tokens(ANTHROPIC, 'prompt')).toBe(2 * 52);
    expect(tokens(ANTHROPIC, 'completion')).toBe(2 * 7);
    expect(tokens(ANTHROPIC, 'cached')).toBe(12 + 52);
    expect(tokens('sonnet', 'completion')).toBeGreaterThan(0);
    expect(value(s, 'gateway_cost_usd_total', { model: ANTHROPIC, key_id: 'team' })).toBeGreaterThan(0);
  });

  it('counts cache hits and misses', () => {
    expect(value(s, 'gateway_cache_requests_total', { model: ANTHROPIC, result: 'miss' })).toBe(1);
    expect(value(s, 'gateway_cache_requests_total', { model: ANTHROPIC, result: 'hit' })).toBe(1);
    expect(value(s, 'gateway_cache_requests_total', { model: 'smart', result: 'miss' })).toBe(1);
  });

  it('counts retries, fallbacks, cooldowns and upstream errors by target and kind', () => {
    expect(value(s, 'gateway_retries_total', { target: 'local/a' })).toBe(2);
    expect(value(s, 'gateway_fallbacks_total', { from: 'local/a', to: 'local2/b' })).toBe(1);
    expect(value(s, 'gateway_cooldowns_total', { target: 'local/a' })).toBe(1);
    expect(value(s, 'gateway_upstream_errors_total', { provider: 'local', kind: 'overloaded' })).toBe(3);
  });

  it('gauges the queue, the processes and the pool, and counts CLI spawns with their start-up time', () => {
    expect(value(s, 'gateway_queue_depth')).toBe(0);
    expect(value(s, 'gateway_processes', { state: 'running' })).toBe(0);
    expect(samples(s, 'gateway_processes').map((m) => m.labels.state).sort()).toEqual(['queued', 'running']);
    const pool = samples(s, 'gateway_pool_processes');
    expect(pool.map((m) => m.labels.state)).toEqual(expect.arrayContaining(['warm', 'hot', 'busy']));
    expect(value(s, 'gateway_pool_processes')).toBeGreaterThanOrEqual(1);
    expect(value(s, 'gateway_cli_spawns_total', { mode: 'pooled', outcome: 'started' })).toBeGreaterThanOrEqual(1);
    expect(observations(s, 'gateway_cli_spawn_seconds', { mode: 'pooled' })).toBeGreaterThanOrEqual(1);
  });

  it('never labels with a process, session or key secret; every label is bounded', () => {
    const all = labelValues(s);
    expect(all.length).toBeGreaterThan(50);
    const ids = /proc_[0-9a-f]{8}|resp_|msg_|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
    expect(all.filter((l) => ids.test(l.value) || l.value.includes(SECRET))).toEqual([]);
    expect(s.text).not.toContain(cliProcessId);
    const allowed = new Set(['route', 'method', 'status', 'front_door', 'model', 'provider', 'key_id', 'type', 'target', 'from', 'to', 'result', 'kind', 'state', 'mode', 'outcome']);
    const gatewayLabels = all.filter((l) => l.metric.startsWith('gateway_')).map((l) => l.label);
    expect([...new Set(gatewayLabels)].filter((l) => !allowed.has(l))).toEqual([]);
  });

  it('gauges WebSocket subscribers while they are connected', async () => {
    const before = value(await scrape(gw.url), 'gateway_event_subscribers', { front_door: 'websocket' });
    const socket = await openEvents(gw.url, { api_key: SECRET });
    try {
      expect(value(await scrape(gw.url), 'gateway_event_subscribers', { front_door: 'websocket' })).toBe(before + 1);
    } finally {
      await socket.close();
    }
    await waitFor(async () => value(await scrape(gw.url), 'gateway_event_subscribers', { front_door: 'websocket' }) === before, { what: 'the subscriber gone' });
  });
});

describe('METRICS_REQUIRE_KEY=1', () => {
  let locked: TestGateway;
  beforeAll(async () => {
    locked = await startGateway({ fake: true, env: { POOL_SIZE: '0', GATEWAY_API_KEYS: `team:${SECRET}`, METRICS_REQUIRE_KEY: '1' } });
  });
  afterAll(async () => {
    await locked?.close();
  });

  it('refuses /metrics without a key (401, the OpenAI error shape) and serves it with one', async () => {
    const refused = await fetchJson(`${locked.url}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.body.error.type).toBe('authentication_error');
    expect((await fetchJson(`${locked.url}/metrics`, { headers: bearer('wrong') })).status).toBe(401);
    const served = await scrape(locked.url, auth);
    expect(served.status).toBe(200);
    expect(served.families.has('gateway_http_requests_total')).toBe(true);
    // Counted all the same, under their route.
    expect(value(served, 'gateway_http_requests_total', { route: '/metrics', status: '401' })).toBe(2);
  });
});
