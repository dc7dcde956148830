// The Anthropic Messages API as a provider (providers/anthropic/): `anthropic/<model>` through the
// real gateway and the official OpenAI SDK, against the mock API (test/support/mock-anthropic.ts).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fetchJson, waitFor, waitForStatus } from '../support/process-helpers.js';
import { startGateway, tempDir, useMockGateway } from '../support/gateway.js';

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type Call = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;

const MODEL = 'anthropic/claude-sonnet-4-5';
const ctx = useMockGateway();
const lastRequest = () => ctx.mock.messageRequests().at(-1)!;

async function post(body: unknown) {
  const res = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('anthropic/<model>', () => {
  it('answers a plain completion from the Messages API, with system prompt, cache breakpoints and the key', async () => {
    ctx.mock.on('plain AP1', {
      text: 'Direct answer.',
      usage: { input_tokens: 12, output_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 },
    });
    const data = await ctx.gw.openai.chat.completions.create({
      model: MODEL,
      max_tokens: 300,
      temperature: 0.5,
      stop: ['END'],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'earlier question' },
        { role: 'assistant', content: 'earlier answer' },
        { role: 'user', content: 'plain AP1' },
      ],
    });
    expect(data.model).toBe(MODEL);
    expect(data.choices[0]!.message.content).toBe('Direct answer.');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 17, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 3 } });
    expect((data as any).claude_metadata).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Direct answer.' }], stop_reason: 'end_turn' });

    const req = lastRequest();
    expect(req.headers['x-api-key']).toBe('sk-test');
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 300,
      temperature: 0.5,
      stop_sequences: ['END'],
      stream: true,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'earlier question' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'earlier answer', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: [{ type: 'text', text: 'plain AP1' }] },
      ],
    });
  });

  it('defaults max_tokens', async () => {
    const { status } = await post({ model: 'anthropic/claude-haiku-4-5', messages: [{ role: 'user', content: 'defaults AP2' }] });
    expect(status).toBe(200);
    expect(lastRequest().body).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 4096 });
    expect(lastRequest().body.system).toBeUndefined();
  });

  it('streams deltas as they come, and the usage chunk with include_usage', async () => {
    ctx.mock.on('stream AP3', { text: ['One ', 'two ', 'three.'], chunkDelayMs: 20, usage: { input_tokens: 8, output_tokens: 3 } });
    const stream = await ctx.gw.openai.chat.completions.create({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream AP3' }],
    });
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas).toEqual(['One ', 'two ', 'three.']);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 });
  });

  it('answers tool calls and completes; the results come back as tool_result blocks in the next request', async () => {
    const weather = {
      type: 'function' as const,
      function: { name: 'get_weather', description: 'the weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    };
    ctx.mock.on('weather AP4', { kind: 'tool_use', name: 'get_weather', input: { city: 'Oslo' }, text: 'Checking.' });
    ctx.mock.on('cold 2C', { text: 'It is 2C in Oslo.' });
    const messages: Msg[] = [{ role: 'user', content: 'weather AP4' }];
    const first = await ctx.gw.openai.chat.completions.create({ model: MODEL, messages, tools: [weather] });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Checking.');
    const calls = choice.message.tool_calls as Call[];
    expect(calls).toHaveLength(1);
    expect(calls[0]!.function.name).toBe('get_weather');
    expect(JSON.parse(calls[0]!.function.arguments)).toEqual({ city: 'Oslo' });
    expect(lastRequest().body.tools).toEqual([
      { name: 'get_weather', description: 'the weather', input_schema: weather.function.parameters, cache_control: { type: 'ephemeral' } },
    ]);
    expect(lastRequest().body.tool_choice).toEqual({ type: 'auto' });
    // Nothing waits: the process completed with its calls.
    const record = (await fetchJson(`${ctx.gw.url}/v1/processes/${(first as any).process_id}`)).body;
    expect(record.status).toBe('completed');

    const second = await ctx.gw.openai.chat.completions.create({
      model: MODEL,
      tools: [weather],
      messages: [...messages, choice.message, { role: 'tool', tool_call_id: calls[0]!.id, content: 'cold 2C' }],
    });
    expect(second.choices[0]!.message.content).toBe('It is 2C in Oslo.');
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect(lastRequest().body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather AP4' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: calls[0]!.id, name: 'get_weather', input: { city: 'Oslo' }, cache_control: { type: 'ephemeral' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: calls[0]!.id, content: [{ type: 'text', text: 'cold 2C' }] }] },
    ]);
  });

  it('streams tool calls as they are generated', async () => {
    ctx.mock.on('streamed call AP5', { kind: 'tool_use', name: 'lookup', input: { q: 'x' } });
    const stream = await ctx.gw.openai.chat.completions.create({
      model: MODEL,
      stream: true,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      messages: [{ role: 'user', content: 'streamed call AP5' }],
    });
    let args = '';
    let finish: string | null = null;
    const names: string[] = [];
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (call.function?.name) names.push(call.function.name);
        args += call.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(names).toEqual(['lookup']);
    expect(JSON.parse(args)).toEqual({ q: 'x' });
    expect(finish).toBe('tool_calls');
  });

  it('sends an image data URL as a base64 image block', async () => {
    const { status } = await post({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'image AP6' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(status).toBe(200);
    expect(lastRequest().body.messages[0].content).toEqual([
      { type: 'text', text: 'image AP6' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it("passes an upstream 429's retry-after on when it is longer than the gateway would wait", async () => {
    ctx.mock.on('limited AP7', { kind: 'error', status: 429, message: 'slow down', headers: { 'retry-after': '30' } });
    const before = ctx.mock.messageRequests().length;
    const res = await post({ model: MODEL, messages: [{ role: 'user', content: 'limited AP7' }] });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(res.body.error).toMatchObject({ type: 'rate_limit_error', code: 'upstream_rate_limited' });
    expect(res.body.error.message).toContain('slow down');
    // Not tried again: 30 s is above the retry policy's longest backoff.
    expect(ctx.mock.messageRequests().length - before).toBe(1);
  });

  it('answers an upstream 529 as a 503 once its retries are spent', async () => {
    ctx.mock.on('overloaded AP8', { kind: 'error', status: 529, message: 'Overloaded' });
    const before = ctx.mock.messageRequests().length;
    const res = await post({ model: MODEL, messages: [{ role: 'user', content: 'overloaded AP8' }] });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ type: 'overloaded_error', code: 'upstream_overloaded' });
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(res.headers.get('x-gateway-attempts')).toBe('3');
    expect(ctx.mock.messageRequests().length - before).toBe(3);
  });

  it('continues a session: the stored conversation is sent with the new message', async () => {
    const first = await post({ model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'first AP9' }] });
    expect(first.status).toBe(200);
    const next = await post({ model: MODEL, session_id: first.body.session_id, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'second AP9' }] });
    expect(next.status).toBe(200);
    expect(next.body.session_id).toBe(first.body.session_id);
    const sent = lastRequest().body;
    expect(sent.messages.map((m: any) => [m.role, JSON.stringify(m.content)])).toEqual([
      ['user', expect.stringContaining('first AP9')],
      ['assistant', expect.stringContaining('Hello from mock')],
      ['user', expect.stringContaining('second AP9')],
    ]);
    expect(JSON.stringify(sent.system)).toContain('Be brief.');
    const session = (await fetchJson(`${ctx.gw.url}/v1/sessions/${first.body.session_id}`)).body;
    expect(session).toMatchObject({ provider: 'anthropic', turns: 2 });
  });

  it('refuses to continue a session with a model of another provider', async () => {
    const first = await post({ model: MODEL, messages: [{ role: 'user', content: 'first AP12' }] });
    const before = ctx.mock.messageRequests().length;
    const res = await post({ model: 'claude-cli/sonnet', session_id: first.body.session_id, messages: [{ role: 'user', content: 'next AP12' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'model', code: 'session_provider_mismatch' });
    expect(res.body.error.message).toContain("'anthropic'");
    expect(ctx.mock.messageRequests()).toHaveLength(before);
  });

  it('lists the anthropic models beside the CLI aliases', async () => {
    const ids = (await ctx.gw.openai.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['claude-cli/sonnet', 'claude-cli/opus', MODEL, 'anthropic/claude-opus-4-1', 'anthropic/claude-haiku-4-5']));
  });

  it('stops the upstream request when the client goes away', async () => {
    ctx.mock.on('hang AP10', { kind: 'hang' });
    const controller = new AbortController();
    const pending = fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hang AP10' }] }),
      signal: controller.signal,
    })
      .then((res) => res.text())
      .catch(() => undefined);
    const processId = await waitFor(async () => {
      const list = (await fetchJson(`${ctx.gw.url}/v1/processes?status=running`)).body;
      return list.data?.[0]?.id as string | undefined;
    });
    await waitFor(() => lastRequest().lastUserText === 'hang AP10');
    controller.abort();
    await pending;
    await waitForStatus(ctx.gw.url, processId, ['cancelled']);
  });
});

describe('anthropic/<model> credentials and reachability', () => {
  it('sends ANTHROPIC_AUTH_TOKEN as a bearer token when there is no API key', async () => {
    const gw = await startGateway({ mock: ctx.mock, parentEnv: { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: 'tok-1' } });
    try {
      const data = await gw.openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'bearer AP11' }] });
      expect(data.choices[0]!.message.content).toBe('Hello from mock');
      expect(lastRequest().headers.authorization).toBe('Bearer tok-1');
      expect(lastRequest().headers['x-api-key']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });

  it('is absent without a credential, and answers 502 when the API cannot be reached', async () => {
    const none = await startGateway({ parentEnv: { ANTHROPIC_API_KEY: '' } });
    const down = await startGateway({ parentEnv: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' } });
    try {
      const ids = (await none.openai.models.list()).data.map((m) => m.id);
      expect(ids).toContain('claude-cli/sonnet');
      expect(ids.some((id) => id.startsWith('anthropic/'))).toBe(false);
      const missing = await fetch(`${none.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(missing.status).toBe(404);

      const res = await fetch(`${down.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'upstream_unreachable' });
    } finally {
      await none.close();
      await down.close();
    }
  });
});

describe('another Anthropic instance from GATEWAY_CONFIG', () => {
  it('serves <name>/<model> at its own base URL with its own key, listed with its models', async () => {
    const dir = tempDir('anthropic-instance-');
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      ['providers:', '  work:', '    type: anthropic', `    base_url: ${ctx.mock.url}`, '    api_key_env: WORK_KEY', '    models: [claude-haiku-4-5]'].join('\n'),
    );
    const gw = await startGateway({ mock: ctx.mock, env: { GATEWAY_CONFIG: file }, parentEnv: { WORK_KEY: 'sk-work' } });
    try {
      const data = await gw.openai.chat.completions.create({ model: 'work/claude-haiku-4-5', messages: [{ role: 'user', content: 'instance AP13' }] });
      expect(data.choices[0]!.message.content).toBe('Hello from mock');
      expect(lastRequest().headers['x-api-key']).toBe('sk-work');
      expect(lastRequest().body.model).toBe('claude-haiku-4-5');
      const ids = (await gw.openai.models.list()).data.map((m) => m.id);
      expect(ids).toContain('work/claude-haiku-4-5');
      expect(ids).toContain('anthropic/claude-sonnet-4-5');
    } finally {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
