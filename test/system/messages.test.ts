// The Anthropic Messages API front door (POST /v1/messages, /v1/messages/count_tokens), checked from
// outside as its clients use it: the official @anthropic-ai/sdk, raw HTTP for what the SDK hides, and
// Claude Code itself (`claude -p` with ANTHROPIC_BASE_URL at the gateway). Behind the gateway the real
// CLI runs against the mock Anthropic upstream.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { defaultClaudeBin } from '../../src/config.js';
import { useMockGateway } from '../support/gateway.js';

const KEY = 'key-one';
// Claude Code as a client sends its own tools (Bash, Read…): they are its own, never the gateway's CLI
// tools, so no ALLOWED_TOOLS is needed.
const ctx = useMockGateway({ env: { GATEWAY_API_KEYS: KEY } });

const client = (opts: ConstructorParameters<typeof Anthropic>[0] = {}) => new Anthropic({ baseURL: ctx.gw.url, apiKey: KEY, maxRetries: 0, ...opts });
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'the weather of a place',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

async function post(pathAndQuery: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) {
  const res = await fetch(`${ctx.gw.url}${pathAndQuery}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined };
}

/** The error an SDK call fails with. */
async function failure(p: Promise<unknown>): Promise<InstanceType<typeof Anthropic.APIError>> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Anthropic.APIError);
  return err as InstanceType<typeof Anthropic.APIError>;
}

describe('POST /v1/messages with @anthropic-ai/sdk (real CLI against the mock)', () => {
  it('creates a message: text, end_turn, Anthropic usage, the gateway ids and headers', async () => {
    ctx.mock.on('hello messages', {
      text: 'Hello from the mock.',
      usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 7, cache_creation_input_tokens: 2 },
    });
    const { data, response } = await client()
      .messages.create({ model: 'claude-sonnet-5-5', max_tokens: 1024, system: 'be brief', messages: [{ role: 'user', content: 'hello messages' }] })
      .withResponse();
    expect(data).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5-5',
      content: [{ type: 'text', text: 'Hello from the mock.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 7, cache_creation_input_tokens: 2 },
    });
    expect(data.id).toMatch(/^msg_/);
    const extra = data as unknown as { session_id: string; process_id: string };
    expect(response.headers.get('x-session-id')).toBe(extra.session_id);
    expect(response.headers.get('x-process-id')).toBe(extra.process_id);
    expect(response.headers.get('x-gateway-model')).toBe('claude-cli/claude-sonnet-5-5');
    expect(response.headers.get('x-gateway-attempts')).toBe('1');
    // The system prompt reached the upstream.
    const upstream = ctx.mock.messageRequests().find((r) => r.lastUserText.includes('hello messages'))!;
    expect(JSON.stringify(upstream.body.system)).toContain('be brief');
  });

  it('streams: the SDK’s stream() assembles the final message from the events', async () => {
    ctx.mock.on('stream please', { text: ['Str', 'eamed ', 'answer.'] });
    const stream = client().messages.stream({ model: 'sonnet', max_tokens: 256, messages: [{ role: 'user', content: 'stream please' }] });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'Streamed answer.' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    expect(deltas.join('')).toBe('Streamed answer.');
    expect(deltas.length).toBeGreaterThan(1);
  });

  it('streams the raw Anthropic events in order, with ?beta=true as Claude Code sends it', async () => {
    const res = await post('/v1/messages?beta=true', { model: 'sonnet', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'raw events' }] }, {
      'x-api-key': KEY,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-gateway-model')).toBe('claude-cli/sonnet');
    const events = res.text.split('\n\n').filter(Boolean).map((block) => {
      const [event, data] = block.split('\n');
      const parsed = JSON.parse(data!.replace(/^data: /, ''));
      expect(event).toBe(`event: ${parsed.type}`);
      return parsed;
    });
    expect(events.map((e) => e.type)).toEqual([
      'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(events[3].delta).toEqual({ type: 'text_delta', text: 'Hello from mock' });
    expect(events[5]).toMatchObject({ delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } });
  });

  it('tools round trip: tool_use stops the answer, tool_result continues the same run to the final text', async () => {
    ctx.mock.on('weather in Paris?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' }, text: 'Let me check.' });
    ctx.mock.on('sunny 22C', { text: 'It is sunny and 22C in Paris.' });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await client().messages.create({ model: 'sonnet', max_tokens: 1024, tools: [weather], messages });
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content[0]).toEqual({ type: 'text', text: 'Let me check.' });
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(call).toMatchObject({ name: 'get_weather', input: { location: 'Paris' } });

    const before = ctx.mock.messageRequests().length;
    const second = await client().messages.create({
      model: 'sonnet',
      max_tokens: 1024,
      tools: [weather],
      messages: [...messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny 22C' }] }],
    });
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content).toEqual([{ type: 'text', text: 'It is sunny and 22C in Paris.' }]);
    expect((second as any).session_id).toBe((first as any).session_id);
    // The parked run went on: one more upstream request, carrying the result.
    expect(ctx.mock.messageRequests().length).toBe(before + 1);
    expect(JSON.stringify(ctx.mock.messageRequests().at(-1)!.body.messages.at(-1))).toContain('sunny 22C');
  });

  it('streams a tool call: the final message has the tool_use block with its parsed input', async () => {
    ctx.mock.on('streamed weather in Oslo?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Oslo' } });
    ctx.mock.on('snow -3C', { text: 'Snowy in Oslo.' });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'streamed weather in Oslo?' }];
    const first = await client().messages.stream({ model: 'sonnet', max_tokens: 1024, tools: [weather], messages }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(call).toMatchObject({ name: 'get_weather', input: { location: 'Oslo' } });
    const second = await client()
      .messages.stream({
        model: 'sonnet',
        max_tokens: 1024,
        tools: [weather],
        messages: [...messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'snow -3C' }] }],
      })
      .finalMessage();
    expect(second.content).toEqual([{ type: 'text', text: 'Snowy in Oslo.' }]);
  });

  it('sends image blocks, base64 and URL, to the upstream', async () => {
    const res = await client().messages.create({
      model: 'sonnet',
      max_tokens: 64,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is in these? MSGIMG' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(res.content[0]).toMatchObject({ type: 'text' });
    const upstream = ctx.mock.messageRequests().find((r) => JSON.stringify(r.body.messages).includes('MSGIMG'));
    const blocks = JSON.stringify(upstream!.body.messages);
    expect(blocks).toContain(`"data":"${PNG}"`);
    expect(blocks).toContain('"media_type":"image/png"');
    expect(blocks).toContain('https://example.com/cat.jpg');
  });

  it('counts tokens (an estimate) without running anything', async () => {
    const before = ctx.mock.messageRequests().length;
    const small = await client().messages.countTokens({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] });
    const big = await client().messages.countTokens({ model: 'sonnet', system: 'x'.repeat(400), tools: [weather], messages: [{ role: 'user', content: 'hi' }] });
    expect(small.input_tokens).toBe(1);
    expect(big.input_tokens).toBeGreaterThan(100);
    expect(ctx.mock.messageRequests().length).toBe(before);
    const unknown = await failure(client().messages.countTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
  });
});

describe('any provider serves it', () => {
  it('an anthropic/… model answers through the Anthropic provider, whole and streamed', async () => {
    ctx.mock.on('via the api provider', { text: ['Direct ', 'answer.'] });
    const { data, response } = await client()
      .messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'via the api provider' }] })
      .withResponse();
    expect(data).toMatchObject({ model: 'anthropic/claude-sonnet-4-5', content: [{ type: 'text', text: 'Direct answer.' }], stop_reason: 'end_turn' });
    expect(response.headers.get('x-gateway-model')).toBe('anthropic/claude-sonnet-4-5');
    const streamed = await client()
      .messages.stream({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'via the api provider' }] })
      .finalMessage();
    expect(streamed.content).toEqual([{ type: 'text', text: 'Direct answer.' }]);
  });
});

describe('errors in the Anthropic shape', () => {
  it('400 names the field, 404 for an unknown model, streamed or not', async () => {
    const bad = await failure(client().messages.create({ model: 'sonnet', max_tokens: 64, temperature: 5, messages: [{ role: 'user', content: 'hi' }] } as any));
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining("'temperature'") } });
    const missing = await failure(client().messages.create({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } as any));
    expect((missing.error as any).error.message).toContain("'max_tokens' is required");
    for (const stream of [false, true]) {
      const unknown = await failure(client().messages.create({ model: 'gpt-4o', max_tokens: 64, stream, messages: [{ role: 'user', content: 'hi' }] }));
      expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
      expect((unknown.error as any).error).toEqual({ type: 'not_found_error', message: expect.stringContaining("'gpt-4o'") });
    }
  });

  it('401 without a key or with a wrong one; the key works as x-api-key and as Bearer', async () => {
    const wrong = await failure(client({ apiKey: 'nope' }).messages.create({ model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }));
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(wrong.error).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'invalid API key' } });
    const none = await post('/v1/messages', { model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }, {});
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.stringContaining('x-api-key') } });
    const counted = await post('/v1/messages/count_tokens', { model: 'sonnet', messages: [] }, {});
    expect(counted.body.error.type).toBe('authentication_error');

    const bearer = await client({ apiKey: null, authToken: KEY }).messages.create({ model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'bearer hi' }] });
    expect(bearer.type).toBe('message');
    // Other routes keep OpenAI's shape.
    const models = await fetch(`${ctx.gw.url}/v1/models`);
    expect((await models.json()).error).toMatchObject({ type: 'authentication_error', param: null });
  });

  it('bodies that fail before the handler (not JSON, too large) answer in the Anthropic shape too', async () => {
    const notJson = await post('/v1/messages', '{"model":');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('not valid JSON') } });
    const huge = await post('/v1/messages', { model: 'sonnet', max_tokens: 1, messages: [{ role: 'user', content: 'x'.repeat(ctx.gw.config.bodyLimitBytes) }] });
    expect(huge.status).toBe(413);
    expect(huge.body).toEqual({ type: 'error', error: { type: 'request_too_large', message: expect.any(String) } });
    const blocks = await post('/v1/messages', { model: 'sonnet', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] });
    expect(blocks.status).toBe(400);
    expect(blocks.body.error.message).toContain('messages[0].content[0].type');
  });
});

describe('Claude Code as a client', () => {
  it('`claude -p` with ANTHROPIC_BASE_URL at the gateway prints the answer of the gateway’s own CLI', async () => {
    ctx.mock.on('hello from the outer claude', { text: 'Inner answer via the gateway.' });
    const home = path.join(ctx.gw.dir, 'outer-home');
    mkdirSync(home, { recursive: true });
    const run = await execa(defaultClaudeBin(), ['-p', 'hello from the outer claude', '--output-format', 'json'], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
        ANTHROPIC_BASE_URL: ctx.gw.url,
        ANTHROPIC_API_KEY: KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
      },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: 60_000,
      forceKillAfterDelay: 2_000,
    });
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ type: 'result', is_error: false, result: 'Inner answer via the gateway.' });
  }, 90_000);
});
