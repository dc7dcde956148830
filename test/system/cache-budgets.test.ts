// The response cache and the keys' policies of GATEWAY_CONFIG (budgets, model allow-lists) through the
// real gateway, with `local/<model>` served by the mock OpenAI-compatible server
// (test/support/mock-openai.ts): whether the upstream is called, what the client, the records and
// /v1/usage say.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { type MockOpenAI, startMockOpenAI } from '../support/mock-openai.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { apiClient, bearer, fetchJson, sleep } from '../support/process-helpers.js';

const MODEL = 'local/m';

const completions = (mock: MockOpenAI) => mock.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions')).length;

/** The directories of the config files written: removed after the file's tests. */
const configDirs: string[] = [];
afterAll(() => {
  for (const dir of configDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes GATEWAY_CONFIG (provider `local` at the mock, and `extra`); returns its path and a function that rewrites it. */
function configFile(mock: MockOpenAI, extra: Record<string, unknown>) {
  const dir = tempDir('gw-cb-cfg-');
  configDirs.push(dir);
  const file = path.join(dir, 'gateway.json');
  const write = (more: Record<string, unknown>) =>
    writeFileSync(file, JSON.stringify({ providers: { local: { type: 'openai-compatible', base_url: mock.url, models: ['m'] } }, ...more }));
  write(extra);
  return { file, write };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content }], ...extra });

describe('the response cache', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  const c = apiClient(() => gw);
  const post = (body: unknown, headers: Record<string, string> = {}) => fetchJson(`${gw.url}/v1/chat/completions`, { body, headers });

  beforeAll(async () => {
    mock = await startMockOpenAI();
    const { file } = configFile(mock, { cache: { ttl_s: 60, max_mb: 8 }, prices: { [MODEL]: { input: 1, output: 2 } } });
    gw = await startGateway({ fake: true, env: { GATEWAY_CONFIG: file, POOL_SIZE: '0' } });
  });
  afterAll(async () => {
    await mock?.close();
    await gw?.close();
  });

  it('answers the second identical request from the cache, with no upstream call', async () => {
    mock.script([{ text: 'Cached answer.', usage: { prompt_tokens: 30, completion_tokens: 6, cached_tokens: 10 } }]);
    const before = completions(mock);
    const miss = await post(chat('cache CB1'));
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-cache')).toBe('miss');
    expect(completions(mock)).toBe(before + 1);

    const hit = await post(chat('cache CB1'));
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.headers.get('x-gateway-model')).toBe(MODEL);
    expect(completions(mock)).toBe(before + 1);
    expect(hit.body.choices[0].message.content).toBe('Cached answer.');
    expect(hit.body.choices[0].finish_reason).toBe('stop');
    expect(hit.body.model).toBe(MODEL);
    // A process of its own, every prompt token counted as cached.
    expect(hit.body.process_id).not.toBe(miss.body.process_id);
    expect(hit.body.id).not.toBe(miss.body.id);
    expect(hit.body.usage).toEqual({ prompt_tokens: 30, completion_tokens: 6, total_tokens: 36, prompt_tokens_details: { cached_tokens: 30 } });

    // The order of the body's fields does not matter.
    const reordered = await post({ messages: [{ content: 'cache CB1', role: 'user' }], model: MODEL });
    expect(reordered.headers.get('x-cache')).toBe('hit');
    expect(completions(mock)).toBe(before + 1);
  });

  it('keeps a record of the hit, costing nothing, counted in /v1/usage as cached', async () => {
    mock.script([{ text: 'Record me.', usage: { prompt_tokens: 40, completion_tokens: 8, cached_tokens: 0 } }]);
    const miss = await post(chat('record CB2'));
    expect(miss.headers.get('x-cache')).toBe('miss');
    const missRecord = (await c.get(`/v1/processes/${miss.body.process_id}`)).body;
    expect(missRecord.cost_usd).toBeCloseTo((40 * 1 + 8 * 2) / 1e6, 12);

    const [usageBefore] = (await c.get('/v1/usage')).body.data;
    const hit = await post(chat('record CB2'));
    expect(hit.headers.get('x-cache')).toBe('hit');
    const record = await c.get(`/v1/processes/${hit.body.process_id}`);
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ id: hit.body.process_id, status: 'completed', model: MODEL, cost_usd: 0 });
    expect(record.body.attempts.at(-1).target).toBe(MODEL);

    const [usageAfter] = (await c.get('/v1/usage')).body.data;
    expect(usageAfter.requests - usageBefore.requests).toBe(1);
    expect(usageAfter.prompt_tokens - usageBefore.prompt_tokens).toBe(40);
    expect(usageAfter.cached_tokens - usageBefore.cached_tokens).toBe(40);
    expect(usageAfter.completion_tokens - usageBefore.completion_tokens).toBe(8);
    expect(usageAfter.cost_usd).toBeCloseTo(usageBefore.cost_usd, 12);
  });

  it('streams a hit after a JSON miss', async () => {
    mock.script([{ text: ['Streamed ', 'from ', 'cache.'], usage: { prompt_tokens: 12, completion_tokens: 3 } }]);
    const miss = await post(chat('stream CB3'));
    expect(miss.headers.get('x-cache')).toBe('miss');
    const before = completions(mock);

    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const { data: stream, response } = await openai.chat.completions
      .create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream CB3' }] })
      .withResponse();
    expect(response.headers.get('x-cache')).toBe('hit');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Streamed from cache.');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 12 } });
    expect(completions(mock)).toBe(before);
  });

  it('streams a cached tool call', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
    mock.script([{ kind: 'tool_calls', calls: [{ name: 'lookup', arguments: { q: 'x' }, id: 'call_cb4' }] }]);
    const miss = await post(chat('tool CB4', { tools }));
    expect(miss.body.choices[0].finish_reason).toBe('tool_calls');
    const before = completions(mock);
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      stream: true,
      tools: tools as OpenAI.Chat.Completions.ChatCompletionTool[],
      messages: [{ role: 'user', content: 'tool CB4' }],
    });
    let args = '';
    const names: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (call.function?.name) names.push(call.function.name);
        args += call.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(completions(mock)).toBe(before);
    expect(names).toEqual(['lookup']);
    expect(JSON.parse(args)).toEqual({ q: 'x' });
    expect(finish).toBe('tool_calls');
  });

  it('skips the cache with cache-control: no-cache or "cache": false, neither reading nor writing it', async () => {
    const first = await post(chat('opt out CB5'));
    expect(first.headers.get('x-cache')).toBe('miss');
    let before = completions(mock);
    for (const [body, headers] of [
      [chat('opt out CB5'), { 'cache-control': 'no-cache' }],
      [chat('opt out CB5', { cache: false }), {}],
      [chat('opt out CB5'), { 'cache-control': 'max-age=0, no-store' }],
    ] as const) {
      const res = await post(body, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).not.toBe('hit');
      expect(completions(mock)).toBe(++before);
      // The gateway's own field is not the upstream's.
      expect(mock.requests.at(-1)!.body).not.toHaveProperty('cache');
    }

    // Not written either: a request that opted out leaves nothing behind for the next one.
    mock.script([{ text: 'not kept' }, { text: 'kept' }]);
    const skipped = await post(chat('never cached CB5', { cache: false }));
    expect(skipped.body.choices[0].message.content).toBe('not kept');
    const after = await post(chat('never cached CB5'));
    expect(after.headers.get('x-cache')).toBe('miss');
    expect(after.body.choices[0].message.content).toBe('kept');
    const noCacheHeader = await post(chat('header never cached CB5'), { 'cache-control': 'no-cache' });
    expect(noCacheHeader.status).toBe(200);
    const next = await post(chat('header never cached CB5'));
    expect(next.headers.get('x-cache')).toBe('miss');
  });

  it('never caches a request with a session_id', async () => {
    const first = await post(chat('session CB6'));
    const sid = first.body.session_id as string;
    const before = completions(mock);
    const a = await post(chat('session turn CB6', { session_id: sid }));
    const b = await post(chat('session turn CB6', { session_id: sid }));
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.headers.get('x-cache')).not.toBe('hit');
    expect(b.headers.get('x-cache')).not.toBe('hit');
    expect(completions(mock)).toBe(before + 2);
    expect((await c.get(`/v1/sessions/${sid}`)).body.turns).toBe(3);
  });

  it('misses on a different temperature (sampling is keyed) or model', async () => {
    const a = await post(chat('sampling CB7', { temperature: 0.2 }));
    expect(a.headers.get('x-cache')).toBe('miss');
    const before = completions(mock);
    const same = await post(chat('sampling CB7', { temperature: 0.2 }));
    expect(same.headers.get('x-cache')).toBe('hit');
    const other = await post(chat('sampling CB7', { temperature: 0.7 }));
    expect(other.headers.get('x-cache')).toBe('miss');
    const otherModel = await post(chat('sampling CB7', { temperature: 0.2, model: 'local/m2' }));
    expect(otherModel.headers.get('x-cache')).toBe('miss');
    const extra = await post(chat('sampling CB7', { temperature: 0.2, top_k: 5 }));
    expect(extra.headers.get('x-cache')).toBe('miss');
    expect(completions(mock)).toBe(before + 3);
  });

  it('keeps a streamed miss for a JSON request, and never keeps a failure', async () => {
    mock.script([{ text: ['Kept ', 'from a stream.'], usage: { prompt_tokens: 8, completion_tokens: 4 } }]);
    const streamed = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('streamed miss CB8', { stream: true })),
    });
    expect(streamed.headers.get('x-cache')).toBe('miss');
    expect(await streamed.text()).toContain('[DONE]');
    const before = completions(mock);
    const hit = await post(chat('streamed miss CB8'));
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.body.choices[0].message.content).toBe('Kept from a stream.');
    expect(completions(mock)).toBe(before);

    mock.script([{ kind: 'error', status: 400, message: 'bad request upstream' }, { text: 'second try' }]);
    const failed = await post(chat('failure CB8'));
    expect(failed.status).toBe(400);
    const again = await post(chat('failure CB8'));
    expect(again.status).toBe(200);
    expect(again.headers.get('x-cache')).toBe('miss');
    expect(again.body.choices[0].message.content).toBe('second try');
    expect(completions(mock)).toBe(before + 2);
  });

  // A hit's session is its own, registered with the turn it answered: continuing it sends that turn.
  it('continues the session a hit answered with the conversation the client saw', async () => {
    mock.script([{ text: 'The capital is Oslo.' }]);
    const miss = await post(chat('capital CB8'));
    expect(miss.headers.get('x-cache')).toBe('miss');
    const hit = await post(chat('capital CB8'));
    expect(hit.headers.get('x-cache')).toBe('hit');
    const next = await post(chat('and its population? CB8', { session_id: hit.body.session_id }));
    expect(next.status).toBe(200);
    expect(next.headers.get('x-cache')).not.toBe('hit');
    // Whatever the gateway does with a hit's session, it never continues it without the turn the client saw.
    const sent = (mock.requests.at(-1)!.body as { messages: unknown[] }).messages;
    expect(sent).toEqual([
      { role: 'user', content: 'capital CB8' },
      { role: 'assistant', content: 'The capital is Oslo.' },
      { role: 'user', content: 'and its population? CB8' },
    ]);
  });
});

describe('the response cache and the Claude CLI', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '0', CACHE_TTL_S: '60', ALLOWED_TOOLS: 'Read,Bash' } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const post = (body: unknown) => fetchJson(`${gw.url}/v1/chat/completions`, { body });

  it('caches a plain CLI request, but never one enabling Claude Code tools (allowed_tools, or a function named after one)', async () => {
    const plain = { model: 'sonnet', messages: [{ role: 'user', content: 'plain CLI CB15' }] };
    expect((await post(plain)).headers.get('x-cache')).toBe('miss');
    expect((await post(plain)).headers.get('x-cache')).toBe('hit');

    for (const extra of [{ allowed_tools: ['Read'] }, { tools: [{ type: 'function', function: { name: 'Bash', parameters: { type: 'object' } } }] }]) {
      const body = { ...plain, messages: [{ role: 'user', content: `tools CB15 ${JSON.stringify(extra)}` }], ...extra };
      const first = await post(body);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const second = await post(body);
      expect(second.status).toBe(200);
      expect(second.headers.get('x-cache'), JSON.stringify(extra)).not.toBe('hit');
    }
  });
});

describe('the response cache with CACHE_TTL_S', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  beforeAll(async () => {
    mock = await startMockOpenAI();
    const { file } = configFile(mock, {});
    gw = await startGateway({ fake: true, env: { GATEWAY_CONFIG: file, POOL_SIZE: '0', CACHE_TTL_S: '1' } });
  });
  afterAll(async () => {
    await mock?.close();
    await gw?.close();
  });

  it('serves an answer for ttl seconds, then asks again', async () => {
    const post = () => fetchJson(`${gw.url}/v1/chat/completions`, { body: chat('ttl CB9') });
    const before = completions(mock);
    expect((await post()).headers.get('x-cache')).toBe('miss');
    expect((await post()).headers.get('x-cache')).toBe('hit');
    expect(completions(mock)).toBe(before + 1);
    await sleep(1_200);
    expect((await post()).headers.get('x-cache')).toBe('miss');
    expect(completions(mock)).toBe(before + 2);
  });
});

describe('budgets and allowed models', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let config: ReturnType<typeof configFile>;
  const secrets = { TINY_KEY: 'sk-tiny', DAILY_KEY: 'sk-daily', LIMITED_KEY: 'sk-limited', ALICE_KEY: 'sk-alice', BOB_KEY: 'sk-bob', ROOT_KEY: 'sk-root' };
  const keys = (tinyTotal: number) => [
    { id: 'tiny', key_env: 'TINY_KEY', budget_usd: { total: tinyTotal } },
    { id: 'daily', key_env: 'DAILY_KEY', budget_usd: { daily: 0.000001 } },
    { id: 'limited', key_env: 'LIMITED_KEY', models: ['smart'] },
    { id: 'alice', key_env: 'ALICE_KEY' },
    { id: 'bob', key_env: 'BOB_KEY' },
    { id: 'root', key_env: 'ROOT_KEY', admin: true },
  ];
  const settings = (tinyTotal: number) => ({
    models: { smart: { targets: [MODEL] } },
    prices: { [MODEL]: { input: 1, output: 1 } },
    keys: keys(tinyTotal),
  });
  const as = (secret: string) => apiClient(() => gw, bearer(secret));
  const tiny = as(secrets.TINY_KEY);
  const daily = as(secrets.DAILY_KEY);
  const limited = as(secrets.LIMITED_KEY);
  const alice = as(secrets.ALICE_KEY);
  const bob = as(secrets.BOB_KEY);
  const root = as(secrets.ROOT_KEY);

  beforeAll(async () => {
    mock = await startMockOpenAI();
    config = configFile(mock, settings(0.000001));
    gw = await startGateway({ fake: true, env: { GATEWAY_CONFIG: config.file, POOL_SIZE: '0' }, parentEnv: secrets });
  });
  afterAll(async () => {
    await mock?.close();
    await gw?.close();
  });

  it('refuses a key over its total budget with 429 budget_exceeded before anything runs; a reload with more lets it through', async () => {
    const first = await tiny.chat('budget CB10', { model: MODEL });
    expect(first.status).toBe(200);
    // 10 prompt and 5 completion tokens at $1 per million: over the $0.000001 budget.
    expect((await tiny.get(`/v1/processes/${first.body.process_id}`)).body.cost_usd).toBeCloseTo(15e-6, 12);

    const before = completions(mock);
    const refused = await tiny.chat('budget again CB10', { model: MODEL });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'insufficient_quota', code: 'budget_exceeded' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter > 0).toBe(true);
    // Streamed too: refused before any stream opens.
    const streamed = await tiny.chat('budget stream CB10', { model: MODEL, stream: true });
    expect(streamed.status).toBe(429);
    expect(streamed.body.error.code).toBe('budget_exceeded');
    expect(completions(mock)).toBe(before);
    // Other keys are not affected.
    expect((await alice.chat('not mine CB10', { model: MODEL })).status).toBe(200);

    config.write(settings(1));
    gw.reload();
    const allowed = await tiny.chat('budget after reload CB10', { model: MODEL });
    expect(allowed.status).toBe(200);
    expect(completions(mock)).toBe(before + 2);
  });

  it('refuses a key over its daily budget until the next UTC midnight', async () => {
    expect((await daily.chat('daily CB11', { model: MODEL })).status).toBe(200);
    const before = completions(mock);
    const refused = await daily.chat('daily again CB11', { model: MODEL });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'insufficient_quota', code: 'budget_exceeded' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    const now = Date.now();
    const midnight = Math.ceil((Math.floor(now / 86_400_000) + 1) * 86_400 - now / 1000);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(Math.abs(retryAfter - midnight)).toBeLessThanOrEqual(3);
    expect(completions(mock)).toBe(before);
  });

  it('refuses a model outside the key’s list with 403 model_not_allowed; the listed route is served', async () => {
    const before = completions(mock);
    const refused = await limited.chat('allow-list CB12', { model: MODEL });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed', param: 'model' });
    expect(completions(mock)).toBe(before);
    const ok = await limited.chat('allow-list CB12', { model: 'smart' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-gateway-model')).toBe(MODEL);
    expect(ok.body.model).toBe('smart');
    expect(completions(mock)).toBe(before + 1);
    expect(mock.requests.at(-1)!.body.model).toBe('m');
  });

  it('sums usage per key: a key sees its own, an admin all', async () => {
    const counts = [
      { prompt_tokens: 11, completion_tokens: 3, cached_tokens: 1 },
      { prompt_tokens: 17, completion_tokens: 4, cached_tokens: 0 },
      { prompt_tokens: 23, completion_tokens: 9, cached_tokens: 6 },
    ];
    const bobCounts = { prompt_tokens: 5, completion_tokens: 2, cached_tokens: 2 };
    const aliceBefore = (await alice.get('/v1/usage?group_by=key')).body.data[0];
    mock.script(counts.map((usage, i) => ({ text: `alice ${i}`, usage })));
    for (let i = 0; i < counts.length; i++) expect((await alice.chat(`usage ${i} CB13`, { model: MODEL })).status).toBe(200);
    mock.script([{ text: 'bob', usage: bobCounts }]);
    expect((await bob.chat('usage bob CB13', { model: MODEL })).status).toBe(200);

    const sum = (k: 'prompt_tokens' | 'completion_tokens' | 'cached_tokens') => counts.reduce((a, u) => a + u[k], 0);
    const aliceRows = (await alice.get('/v1/usage?group_by=key,model,day')).body.data;
    expect(aliceRows.every((r: any) => r.key_id === 'alice')).toBe(true);
    const aliceNow = (await alice.get('/v1/usage?group_by=key')).body.data;
    expect(aliceNow).toHaveLength(1);
    expect(aliceNow[0]).toMatchObject({
      key_id: 'alice',
      requests: aliceBefore.requests + 3,
      prompt_tokens: aliceBefore.prompt_tokens + sum('prompt_tokens'),
      completion_tokens: aliceBefore.completion_tokens + sum('completion_tokens'),
      cached_tokens: aliceBefore.cached_tokens + sum('cached_tokens'),
    });
    // $1 per million for every token (no cache rates: cache reads priced as input).
    const cost = (u: { prompt_tokens: number; completion_tokens: number }) => (u.prompt_tokens + u.completion_tokens) / 1e6;
    expect(aliceNow[0].cost_usd).toBeCloseTo(aliceBefore.cost_usd + counts.reduce((a, u) => a + cost(u), 0), 12);

    const bobRows = (await bob.get('/v1/usage?group_by=key')).body.data;
    expect(bobRows).toEqual([{ key_id: 'bob', requests: 1, ...bobCounts, cost_usd: expect.closeTo(cost(bobCounts), 12) }]);
    // Another key's usage is simply absent.
    expect((await bob.get('/v1/usage?key_id=alice&group_by=key')).body.data).toEqual([]);

    const all = (await root.get('/v1/usage?group_by=key')).body.data as any[];
    expect(all.map((r) => r.key_id).sort()).toEqual(['alice', 'bob', 'daily', 'limited', 'tiny']);
    const [total] = (await root.get('/v1/usage')).body.data;
    for (const k of ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens'] as const) {
      expect(total[k]).toBe(all.reduce((a, r) => a + r[k], 0));
    }
    expect((await root.get('/v1/usage?key_id=bob&group_by=key')).body.data).toEqual(bobRows);
  });
});

describe('budgets across a restart', () => {
  it('counts what a key spent before the restart (the usage ledger)', async () => {
    const mock = await startMockOpenAI();
    const { file } = configFile(mock, { prices: { [MODEL]: { input: 1, output: 1 } }, keys: [{ id: 'tiny', key_env: 'TINY_KEY', budget_usd: { total: 0.00001 } }] });
    const dir = tempDir('gw-cb-restart-');
    const opts = { fake: true, dir, env: { GATEWAY_CONFIG: file, POOL_SIZE: '0' }, parentEnv: { TINY_KEY: 'sk-tiny' } };
    let gw = await startGateway(opts);
    const tiny = apiClient(() => gw, bearer('sk-tiny'));
    try {
      // 10 + 5 tokens at $1 per million: $0.000015, over the $0.00001 budget.
      expect((await tiny.chat('before the restart CB14', { model: MODEL })).status).toBe(200);
      expect((await tiny.chat('over CB14', { model: MODEL })).status).toBe(429);
      await gw.close();
      gw = await startGateway(opts);
      const before = completions(mock);
      const refused = await tiny.chat('after the restart CB14', { model: MODEL });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('budget_exceeded');
      expect(completions(mock)).toBe(before);
    } finally {
      await mock.close();
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a cached answer of the Claude CLI (real CLI)', () => {
  let upstream: MockUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    upstream = await startMockAnthropic();
    gw = await startGateway({ mock: upstream, env: { POOL_SIZE: '0', CACHE_TTL_S: '60' } });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });
  const post = (body: unknown) => fetchJson(`${gw.url}/v1/chat/completions`, { body });

  it("starts the hit's session in the CLI from the conversation the client saw, then resumes it", async () => {
    const ask = { model: 'sonnet', messages: [{ role: 'user', content: 'replay CB16' }] };
    expect((await post(ask)).headers.get('x-cache')).toBe('miss');
    const hit = await post(ask);
    expect(hit.headers.get('x-cache')).toBe('hit');
    const sid = hit.body.session_id as string;
    const next = await post({ model: 'sonnet', session_id: sid, messages: [{ role: 'user', content: 'next CB16' }] });
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect(next.body.session_id).toBe(sid);
    const seen = JSON.stringify(upstream.messageRequests().at(-1)!.body.messages);
    expect(seen).toContain('replay CB16');
    expect(seen).toContain('Hello from mock');
    expect(seen).toContain('next CB16');
    // The CLI has the session now: the next turn resumes it.
    const third = await post({ model: 'sonnet', session_id: sid, messages: [{ role: 'user', content: 'third CB16' }] });
    expect(third.status).toBe(200);
    const again = JSON.stringify(upstream.messageRequests().at(-1)!.body.messages);
    expect(again).toContain('next CB16');
    expect(again).toContain('third CB16');
  });
});
