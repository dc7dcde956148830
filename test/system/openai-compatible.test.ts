// An OpenAI-compatible server declared in GATEWAY_CONFIG (`local/<model>`), through the real gateway
// and the official OpenAI SDK, against the mock server (test/support/mock-openai.ts): what reaches the
// upstream, what the client gets, sessions kept by the gateway, and what the records cost.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { type MockOpenAI, startMockOpenAI } from '../support/mock-openai.js';
import { fetchJson } from '../support/process-helpers.js';

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type Call = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;

const MODEL = 'local/m';
const UPSTREAM_KEY = 'sk-local-upstream';

/** A gateway whose GATEWAY_CONFIG declares the provider `local` at the mock (and `extra` more), on the fake CLI. */
async function gatewayAt(mock: MockOpenAI, extra: Record<string, unknown> = {}): Promise<{ gw: TestGateway; cleanup(): Promise<void> }> {
  const dir = tempDir('gw-oac-');
  const file = path.join(dir, 'gateway.json');
  const config = {
    providers: { local: { type: 'openai-compatible', base_url: mock.url, api_key_env: 'LOCAL_API_KEY', models: ['m'] } },
    ...extra,
  };
  writeFileSync(file, JSON.stringify(config));
  const gw = await startGateway({ fake: true, env: { GATEWAY_CONFIG: file, POOL_SIZE: '0' }, parentEnv: { LOCAL_API_KEY: UPSTREAM_KEY } });
  return {
    gw,
    cleanup: async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const completions = (mock: MockOpenAI) => mock.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions'));

describe('local/<model> through the gateway', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let cleanup: () => Promise<void>;
  const last = () => completions(mock).at(-1)!;

  beforeAll(async () => {
    mock = await startMockOpenAI();
    ({ gw, cleanup } = await gatewayAt(mock));
  });
  afterAll(async () => {
    // The mock first: it ends answers still open.
    await mock?.close();
    await cleanup?.();
  });

  const post = (body: unknown) => fetchJson(`${gw.url}/v1/chat/completions`, { body });

  it('answers a plain completion: model rewritten upstream, the mock’s text and usage, attribution', async () => {
    mock.script([{ text: 'Plain answer.', usage: { prompt_tokens: 21, completion_tokens: 7, cached_tokens: 5 } }]);
    const before = completions(mock).length;
    const { data, response } = await gw.openai.chat.completions
      .create({ model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'plain OC1' }] })
      .withResponse();
    expect(completions(mock).length - before).toBe(1);
    expect(data.model).toBe(MODEL);
    expect(data.choices[0]!.message.content).toBe('Plain answer.');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toEqual({ prompt_tokens: 21, completion_tokens: 7, total_tokens: 28, prompt_tokens_details: { cached_tokens: 5 } });
    expect(response.headers.get('x-gateway-model')).toBe(MODEL);
    expect(response.headers.get('x-gateway-attempts')).toBe('1');
    // The cache is off: no x-cache header at all.
    expect(response.headers.get('x-cache')).toBeNull();

    const req = last();
    expect(req.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(req.body).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'plain OC1' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });

    const record = await fetchJson(`${gw.url}/v1/processes/${(data as any).process_id}`);
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ status: 'completed', model: MODEL, attempts: [{ target: MODEL }] });
    // No price for local/m: the cost is unknown.
    expect(record.body.cost_usd).toBeNull();
  });

  it('streams the deltas as chunks, with the usage chunk when asked', async () => {
    mock.script([{ text: ['Alpha ', 'beta ', 'gamma.'], chunkDelayMs: 30, usage: { prompt_tokens: 9, completion_tokens: 3, cached_tokens: 2 } }]);
    const { data: stream, response } = await gw.openai.chat.completions
      .create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream OC2' }] })
      .withResponse();
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('x-gateway-model')).toBe(MODEL);
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let usageChunkChoices: number | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) {
        usage = chunk.usage;
        usageChunkChoices = chunk.choices.length;
      }
    }
    expect(deltas).toEqual(['Alpha ', 'beta ', 'gamma.']);
    expect(finish).toBe('stop');
    expect(usageChunkChoices).toBe(0);
    expect(usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12, prompt_tokens_details: { cached_tokens: 2 } });
    expect(last().body).toMatchObject({ model: 'm', stream: true, stream_options: { include_usage: true } });
  });

  it('answers tool calls with finish_reason tool_calls; the tool result comes back in an ordinary stateless request', async () => {
    const weather = {
      type: 'function' as const,
      function: { name: 'get_weather', description: 'the weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    };
    mock.script([
      { kind: 'tool_calls', text: 'Checking.', calls: [{ name: 'get_weather', arguments: { city: 'Oslo' }, id: 'call_oc3' }] },
      { text: 'It is 2C in Oslo.' },
    ]);
    const messages: Msg[] = [{ role: 'user', content: 'weather OC3' }];
    const first = await gw.openai.chat.completions.create({ model: MODEL, messages, tools: [weather] });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Checking.');
    const calls = choice.message.tool_calls as Call[];
    expect(calls).toEqual([{ id: 'call_oc3', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    expect(last().body).toMatchObject({ tools: [weather], tool_choice: 'auto', parallel_tool_calls: true });
    // A stateless provider has simply answered: nothing waits for the results.
    const record = (await fetchJson(`${gw.url}/v1/processes/${(first as any).process_id}`)).body;
    expect(record.status).toBe('completed');

    const second = await gw.openai.chat.completions.create({
      model: MODEL,
      tools: [weather],
      messages: [...messages, choice.message, { role: 'tool', tool_call_id: 'call_oc3', content: 'cold, 2C' }],
    });
    expect(second.choices[0]!.message.content).toBe('It is 2C in Oslo.');
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(last().body.messages).toEqual([
      { role: 'user', content: 'weather OC3' },
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'call_oc3', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_oc3', content: 'cold, 2C' },
    ]);
    expect((second as any).session_id).not.toBe((first as any).session_id);
  });

  it('passes image parts through as image_url parts', async () => {
    const content = [
      { type: 'text' as const, text: 'what is it? OC4' },
      { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url' as const, image_url: { url: 'https://example.com/cat.jpg' } },
    ];
    const data = await gw.openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] });
    expect(data.choices[0]!.message.content).toBe('ok');
    expect(last().body.messages).toEqual([{ role: 'user', content }]);
  });

  it('passes fields the gateway does not interpret on to the upstream', async () => {
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'extra fields OC5' }], top_k: 40, repetition_penalty: 1.1, seed: 7 };
    const data = await gw.openai.chat.completions.create(body as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    expect(data.choices[0]!.message.content).toBe('ok');
    expect(last().body).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'extra fields OC5' }],
      top_k: 40,
      repetition_penalty: 1.1,
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('answers an upstream 401 as a 401, without retrying it', async () => {
    mock.script([{ kind: 'error', status: 401, message: 'invalid upstream key' }]);
    const before = completions(mock).length;
    const err = await gw.openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'unauthorized OC6' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const e = err as InstanceType<typeof OpenAI.AuthenticationError>;
    expect(e.status).toBe(401);
    expect(e.code).toBe('upstream_authentication_error');
    expect(e.message).toContain('invalid upstream key');
    expect(completions(mock).length - before).toBe(1);
  });

  it('keeps a session: the continuation sends the whole stored history; GET, mismatch, DELETE', async () => {
    mock.script([{ text: 'First answer.' }, { text: 'Second answer.' }]);
    const first = await post({ model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'first OC7' }] });
    expect(first.status).toBe(200);
    const sid = first.body.session_id as string;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const conversation = path.join(gw.config.dataDir, 'conversations', `${sid}.jsonl`);
    expect(existsSync(conversation)).toBe(true);

    const next = await post({ model: MODEL, session_id: sid, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'second OC7' }] });
    expect(next.status).toBe(200);
    expect(next.body.session_id).toBe(sid);
    expect(next.body.choices[0].message.content).toBe('Second answer.');
    expect(last().body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'first OC7' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'second OC7' },
    ]);
    expect(last().body.model).toBe('m');
    // The gateway's own field stays with the gateway.
    expect(last().body).not.toHaveProperty('session_id');

    const session = await fetchJson(`${gw.url}/v1/sessions/${sid}`);
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ id: sid, object: 'session', provider: 'local', model: MODEL, turns: 2, processes: [first.body.process_id, next.body.process_id] });

    const before = completions(mock).length;
    const mismatch = await post({ model: 'claude-cli/sonnet', session_id: sid, messages: [{ role: 'user', content: 'third OC7' }] });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'session_provider_mismatch' });
    expect(mismatch.body.error.message).toContain("'local'");
    expect(completions(mock).length).toBe(before);

    const deleted = await fetchJson(`${gw.url}/v1/sessions/${sid}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: sid, deleted: true, provider: 'local' });
    expect(existsSync(conversation)).toBe(false);
    expect((await fetchJson(`${gw.url}/v1/sessions/${sid}`)).status).toBe(404);

    const gone = await post({ model: MODEL, session_id: sid, messages: [{ role: 'user', content: 'after delete OC7' }] });
    expect(gone.status).toBe(404);
    expect(gone.body.error.type).toBe('invalid_request_error');
    expect(completions(mock).length).toBe(before);
  });
});

describe('local/<model> with a price', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let cleanup: () => Promise<void>;
  const price = { input: 2, output: 8, cache_read: 0.5, cache_write: 4 };

  beforeAll(async () => {
    mock = await startMockOpenAI();
    ({ gw, cleanup } = await gatewayAt(mock, { prices: { [MODEL]: price } }));
  });
  afterAll(async () => {
    await mock?.close();
    await cleanup?.();
  });

  it('puts the computed cost on the record, and on the session', async () => {
    mock.script([{ text: 'Priced.', usage: { prompt_tokens: 1000, completion_tokens: 200, cached_tokens: 400 } }]);
    const data = await gw.openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'priced OC8' }] });
    expect(data.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 400 } });
    // 600 uncached input, 200 output, 400 cache reads, USD per million tokens.
    const expected = (600 * price.input + 200 * price.output + 400 * price.cache_read) / 1e6;
    const record = (await fetchJson(`${gw.url}/v1/processes/${(data as any).process_id}`)).body;
    expect(record.cost_usd).toBeCloseTo(expected, 12);
    const session = (await fetchJson(`${gw.url}/v1/sessions/${(data as any).session_id}`)).body;
    expect(session.cost_usd).toBeCloseTo(expected, 12);
  });
});
