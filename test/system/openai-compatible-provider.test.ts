// The openai-compatible provider (providers/openai-compatible/) driven directly, against the mock
// OpenAI-compatible server (test/support/mock-openai.ts) on 127.0.0.1: what it sends, what it yields,
// how upstream failures come out.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenAICompatibleProvider, type OpenAICompatibleSettings } from '../../providers/openai-compatible/index.js';
import { type ChatRequest, ProviderError, type ProviderEvent, type RunSession } from '../../providers/types.js';
import { toCompletionJob } from '../../src/openai/request.js';
import { chatCompletionRequestSchema } from '../../src/openai/schemas.js';
import { type MockOpenAI, startMockOpenAI } from '../support/mock-openai.js';
import { waitFor } from '../support/process-helpers.js';
import { chatRequest } from '../unit/chat-request.js';

const SESSION: RunSession = { sessionId: 'sess-1', resume: false, cwd: '/tmp', answersWaitingRun: false };

let mock: MockOpenAI;
let provider: OpenAICompatibleProvider;
const extra: { close(): Promise<void> }[] = [];

const make = (over: Partial<OpenAICompatibleSettings> = {}) => {
  const p = new OpenAICompatibleProvider({ name: 'local', baseUrl: mock.url, apiKey: 'sk-local', headers: { 'X-Org': 'org-1' }, ...over });
  extra.push(p);
  return p;
};

beforeEach(async () => {
  mock = await startMockOpenAI();
  provider = make();
});

afterEach(async () => {
  // The mock first: it ends answers still open, so the pools close at once.
  await mock.close();
  await Promise.all(extra.splice(0).map((p) => p.close()));
});

/** The request as the core hands it over: the provider's own model name. */
const request = (over: Partial<ChatRequest> = {}) => provider.prepare(chatRequest(provider.resolveModel('local/llama-3.1-8b')!, over));

async function collect(events: AsyncIterable<ProviderEvent>): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

const failure = async (p = provider, prepared = request()) => {
  const err = await collect(p.run(prepared, SESSION, new AbortController().signal)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
};

const lastBody = () => mock.requests.at(-1)!.body;

describe('openai-compatible provider against a mock server', () => {
  it('streams text deltas and ends with one result carrying the usage in neutral terms', async () => {
    mock.script([{ text: ['Hel', 'lo', '!'], usage: { prompt_tokens: 12, completion_tokens: 3, cached_tokens: 4 } }]);
    const events = await collect(provider.run(request(), SESSION, new AbortController().signal));
    expect(events.filter((e) => e.type === 'text')).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'text', text: '!' },
    ]);
    expect(events.filter((e) => e.type === 'result')).toHaveLength(1);
    const last = events.at(-1)!;
    expect(last.type === 'result' && last.result).toMatchObject({
      text: 'Hello!',
      sessionId: 'sess-1',
      finishReason: 'stop',
      usage: { inputTokens: 8, outputTokens: 3, cacheReadTokens: 4, cacheCreationTokens: 0 },
      raw: { id: expect.stringMatching(/^chatcmpl-mock-/), model: 'llama-3.1-8b', system_fingerprint: 'fp_mock', usage: { prompt_tokens: 12 } },
    });
    expect(last.type === 'result' && last.result.costUsd).toBeUndefined();

    const req = mock.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-local');
    expect(req.headers['x-org']).toBe('org-1');
    expect(req.body).toEqual({
      model: 'llama-3.1-8b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('yields tool calls as they stream, and assembles them', async () => {
    mock.script([{ kind: 'tool_calls', text: 'Checking.', calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }, { name: 'now', arguments: '' }] }]);
    const events = await collect(
      provider.run(request({ tools: [{ name: 'get_weather', parameters: { type: 'object' } }, { name: 'now', parameters: { type: 'object' } }] }), SESSION, new AbortController().signal),
    );
    const starts = events.filter((e) => e.type === 'tool_call_start');
    expect(starts).toEqual([
      { type: 'tool_call_start', index: 0, id: expect.any(String), name: 'get_weather' },
      { type: 'tool_call_start', index: 1, id: expect.any(String), name: 'now' },
    ]);
    const args = events.flatMap((e) => (e.type === 'tool_call_delta' && e.index === 0 ? [e.arguments] : []));
    expect(JSON.parse(args.join(''))).toEqual({ city: 'Oslo' });
    const last = events.at(-1)!;
    expect(last.type === 'result' && last.result).toMatchObject({
      text: 'Checking.',
      finishReason: 'tool_calls',
      toolCalls: [
        { name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { name: 'now', arguments: '{}' },
      ],
    });
    expect(lastBody()).toMatchObject({ tools: [{ type: 'function', function: { name: 'get_weather' } }, {}], tool_choice: 'auto', parallel_tool_calls: true });
  });

  it('sends image parts through as image_url parts', async () => {
    const url = 'data:image/png;base64,iVBORw0KGgo=';
    await collect(
      provider.run(request({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it?' }, { type: 'image', url }] }] }), SESSION, new AbortController().signal),
    );
    expect(lastBody().messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is it?' },
          { type: 'image_url', image_url: { url } },
        ],
      },
    ]);
  });

  it("passes the client's uninterpreted fields on from the OpenAI front door, under the provider's own; the model name rewritten", async () => {
    const passed = { top_p: 0.5, seed: 11, chat_template_kwargs: { enable_thinking: false } };
    const body = chatCompletionRequestSchema.parse({
      model: 'local/llama-3.1-8b',
      messages: [{ role: 'user', content: 'hello' }],
      ...passed,
      max_tokens: 40,
      session_id: '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f',
      allowed_tools: [],
    });
    const job = toCompletionJob(body, { resolveModel: (m) => provider.resolveModel(m) });
    await collect(provider.run(provider.prepare(job.request), SESSION, new AbortController().signal));
    expect(lastBody()).toEqual({
      model: 'llama-3.1-8b',
      messages: [{ role: 'user', content: 'hello' }],
      ...passed,
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('keeps the base URL’s path prefix, and sends no authorization without a key', async () => {
    const p = make({ baseUrl: mock.url.replace(/\/v1$/, '/proxy/v1/'), apiKey: undefined, headers: undefined });
    await collect(p.run(request(), SESSION, new AbortController().signal));
    expect(mock.requests.at(-1)!.path).toBe('/proxy/v1/chat/completions');
    expect(mock.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('maps a 429 with retry-after to rate_limited with retryAfterMs', async () => {
    mock.script([
      { kind: 'error', status: 429, message: 'Rate limit reached', headers: { 'retry-after': '2' } },
      { kind: 'error', status: 429, headers: { 'retry-after-ms': '250', 'retry-after': '1' } },
    ]);
    const err = await failure();
    expect(err).toMatchObject({ kind: 'rate_limited', code: 'upstream_rate_limited', retryAfterMs: 2000, retryable: true });
    expect(err.message).toContain('Rate limit reached');
    expect(await failure()).toMatchObject({ retryAfterMs: 250 });
  });

  it.each([
    [400, 'invalid_request', false],
    [401, 'auth', false],
    [404, 'not_found', false],
    [500, 'upstream', true],
    [503, 'overloaded', true],
    [529, 'overloaded', true],
  ] as const)('maps HTTP %i to %s', async (status, kind, retryable) => {
    mock.script([{ kind: 'error', status, message: `mock says ${status}` }]);
    const err = await failure();
    expect(err).toMatchObject({ kind, retryable });
    expect(err.message).toContain(`mock says ${status}`);
  });

  it('fails on an error mid-stream, and on a stream that ends before its finish', async () => {
    mock.script([{ kind: 'stream_error', message: 'engine died' }, { kind: 'truncated' }]);
    expect(await failure()).toMatchObject({ kind: 'upstream', code: 'upstream_server_error', message: expect.stringContaining('engine died') });
    expect(await failure()).toMatchObject({ kind: 'upstream', code: 'upstream_stream_incomplete' });
  });

  it('maps a refused connection to unreachable', async () => {
    const gone = await startMockOpenAI();
    const url = gone.url;
    await gone.close();
    const err = await failure(make({ baseUrl: url }));
    expect(err).toMatchObject({ kind: 'unreachable', code: 'upstream_unreachable', retryable: true });
  });

  it('stops mid-stream on abort: throws the reason and lets go of the connection', async () => {
    mock.script([{ text: ['one ', 'two ', 'three ', 'four'], chunkDelayMs: 300 }]);
    const ctrl = new AbortController();
    const reason = new Error('client went away');
    const seen: ProviderEvent[] = [];
    const err = await (async () => {
      for await (const ev of provider.run(request(), SESSION, ctrl.signal)) {
        seen.push(ev);
        if (ev.type === 'text') ctrl.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(seen).toEqual([{ type: 'text', text: 'one ' }]);
    await waitFor(() => mock.active() === 0, { timeoutMs: 5000 });
  });

  it('stops a request the upstream never answers on abort', async () => {
    mock.script([{ kind: 'hang' }]);
    const ctrl = new AbortController();
    const reason = new Error('deleted');
    const pending = collect(provider.run(request(), SESSION, ctrl.signal)).catch((e: unknown) => e);
    await waitFor(() => mock.active() === 1, { timeoutMs: 5000 });
    ctrl.abort(reason);
    expect(await pending).toBe(reason);
    await waitFor(() => mock.active() === 0, { timeoutMs: 5000 });
  });

  it('answers a non-streamed request with a chat.completion (for other gateways and benches)', async () => {
    mock.script([{ kind: 'tool_calls', calls: [{ name: 'f', arguments: { a: 1 } }], usage: { prompt_tokens: 7, completion_tokens: 2 } }]);
    const res = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      object: 'chat.completion',
      model: 'm',
      choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
    });
  });
});
