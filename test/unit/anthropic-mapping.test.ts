// What the Anthropic provider makes of a neutral ChatRequest (the Messages API body it sends), and of
// the API's streamed events (the provider events and the result), its errors included.
import { describe, expect, it } from 'vitest';
import { httpError, retryAfterMs, streamError, transportError } from '../../providers/anthropic/errors.js';
import { AnthropicProvider } from '../../providers/anthropic/index.js';
import { OUTPUT_TOOL, prepareMessages } from '../../providers/anthropic/request.js';
import { sseEvents } from '../../providers/sse.js';
import { MessageStream } from '../../providers/anthropic/stream.js';
import { type ChatRequest, ProviderError, type ProviderEvent } from '../../providers/types.js';
import { chatRequest, fn, text, user } from './chat-request.js';
import { refusal, thrown } from './thrown.js';
import { weatherAnswer } from './weather-answer.js';

const EPHEMERAL = { type: 'ephemeral' };

const chat = (over: Partial<ChatRequest> = {}) => chatRequest('claude-sonnet-4-5', over);

describe('model names', () => {
  it('passes any name after anthropic/ through', async () => {
    const provider = new AnthropicProvider({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k' });
    const resolveModel = (r: string) => provider.resolveModel(r);
    expect(resolveModel('anthropic/claude-sonnet-4-5')).toBe('claude-sonnet-4-5');
    expect(resolveModel('anthropic/claude-future-9')).toBe('claude-future-9');
    expect(resolveModel('anthropic/')).toBeUndefined();
    expect(resolveModel('anthropic/has space')).toBeUndefined();
    expect(resolveModel('claude-sonnet-4-5')).toBeUndefined();
    await provider.close();
  });

  it('names another instance as GATEWAY_CONFIG does, with the models it lists', async () => {
    const work = new AnthropicProvider({ name: 'work', baseUrl: 'http://127.0.0.1:9', apiKey: 'k', models: ['claude-haiku-4-5'] });
    expect(work.name).toBe('work');
    expect(work.resolveModel('work/claude-x')).toBe('claude-x');
    expect(work.resolveModel('anthropic/claude-x')).toBeUndefined();
    expect(work.models()).toEqual([{ id: 'work/claude-haiku-4-5', ownedBy: 'anthropic' }]);
    await work.close();
  });
});

describe('request mapping', () => {
  it('joins system messages into a cached system prompt and merges consecutive messages of one role', () => {
    const { body } = prepareMessages(
      chat({
        messages: [{ role: 'system', content: text('be brief') }, user('one'), { role: 'system', content: text('and kind') }, user('two')],
      }),
    );
    expect(body.system).toEqual([{ type: 'text', text: 'be brief\n\nand kind', cache_control: EPHEMERAL }]);
    expect(body.messages).toEqual([{ role: 'user', content: [...text('one'), ...text('two')] }]);
    expect(body.max_tokens).toBe(4096);
    expect(body.stream).toBe(true);
  });

  it('maps calls to tool_use blocks and results to tool_result blocks, with a breakpoint before the new turn', () => {
    const { body } = prepareMessages(
      chat({
        messages: [
          user('weather?'),
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Bern"}' }, { id: 'c2', name: 'get_time', arguments: '' }] },
          { role: 'tool', toolCallId: 'c1', content: text('rain') },
          { role: 'tool', toolCallId: 'c2', content: text('noon') },
        ],
      }),
    );
    expect(body.messages).toEqual([
      { role: 'user', content: text('weather?') },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'c1', name: 'get_weather', input: { city: 'Bern' } },
          { type: 'tool_use', id: 'c2', name: 'get_time', input: {}, cache_control: EPHEMERAL },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1', content: text('rain') },
          { type: 'tool_result', tool_use_id: 'c2', content: text('noon') },
        ],
      },
    ]);
  });

  it('maps images: data URLs to base64 sources, http(s) URLs to url sources', () => {
    const { body } = prepareMessages(
      chat({ messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/jpeg;base64,AAAA' }, { type: 'image', url: 'http://x/y.png' }] }] }),
    );
    expect(body.messages[0]!.content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
      { type: 'image', source: { type: 'url', url: 'http://x/y.png' } },
    ]);
    refusal(() => prepareMessages(chat({ messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/tiff;base64,AA' }] }] })), {
      param: 'messages[0].content[0].image_url.url',
      code: 'unsupported_image',
    });
    refusal(() => prepareMessages(chat({ messages: [{ role: 'user', content: [{ type: 'image', url: 'ftp://x/y.png' }] }] })), {
      code: 'unsupported_image',
    });
  });

  it('maps tools and tool choice, the last tool cached', () => {
    const tools = [{ ...fn('a'), description: 'does a' }, fn('b')];
    const auto = prepareMessages(chat({ tools }));
    expect(auto.body.tools).toEqual([
      { name: 'a', description: 'does a', input_schema: { type: 'object' } },
      { name: 'b', input_schema: { type: 'object' }, cache_control: EPHEMERAL },
    ]);
    expect(auto.body.tool_choice).toEqual({ type: 'auto' });
    expect(prepareMessages(chat({ tools, toolChoice: 'required', parallelToolCalls: false })).body.tool_choice).toEqual({
      type: 'any',
      disable_parallel_tool_use: true,
    });
    expect(prepareMessages(chat({ tools, toolChoice: 'none' })).body.tool_choice).toEqual({ type: 'none' });
    expect(prepareMessages(chat({ tools, toolChoice: { name: 'b' } })).body.tool_choice).toEqual({ type: 'tool', name: 'b' });
    expect(prepareMessages(chat()).body.tools).toBeUndefined();
    refusal(() => prepareMessages(chat({ tools, toolChoice: { name: 'c' } })), { param: 'tool_choice', code: 'unknown_function' });
  });

  it('asks for structured output with a forced tool', () => {
    const schema = { type: 'object', properties: { n: { type: 'number' } } };
    const prepared = prepareMessages(chat({ responseFormat: { type: 'json_schema', schema } }));
    expect(prepared.outputTool).toBe(OUTPUT_TOOL);
    expect(prepared.body.tools).toMatchObject([{ name: OUTPUT_TOOL, input_schema: schema }]);
    expect(prepared.body.tool_choice).toEqual({ type: 'tool', name: OUTPUT_TOOL });
    refusal(() => prepareMessages(chat({ tools: [fn('a')], responseFormat: { type: 'json_schema', schema } })), {
      param: 'response_format',
      code: 'unsupported_parameter',
    });
  });

  it('passes sampling on', () => {
    const { body } = prepareMessages(chat({ sampling: { temperature: 0.3, maxTokens: 77, stop: ['X'] } }));
    expect(body).toMatchObject({ temperature: 0.3, max_tokens: 77, stop_sequences: ['X'] });
  });

  it('refuses what only the CLI does, naming the OpenAI field', () => {
    refusal(() => prepareMessages(chat({ tools: [fn('Bash')] })), { param: 'tools[0].function.name', code: 'unsupported_builtin_tool' });
    refusal(() => prepareMessages(chat({ permissions: { allow: ['Read'], deny: [] } })), { param: 'allowed_tools' });
    refusal(() => prepareMessages(chat({ permissions: { allow: [], deny: ['Bash'] } })), { param: 'disallowed_tools' });
    refusal(() => prepareMessages(chat({ tools: [fn('a'), fn('a')] })), { param: 'tools[1].function.name', code: 'duplicate_function' });
    refusal(() => prepareMessages(chat({ messages: [{ role: 'system', content: text('only') }] })), { param: 'messages' });
    refusal(
      () => prepareMessages(chat({ messages: [user('x'), { role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'a', arguments: '[1' }] }] })),
      { param: 'messages[1].tool_calls[0].function.arguments', code: 'invalid_tool_arguments' },
    );
  });
});

/** An SSE stream as the API writes it. */
const sse = (...events: Record<string, unknown>[]) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

const start = (usage = { input_tokens: 10, cache_read_input_tokens: 4, cache_creation_input_tokens: 1, output_tokens: 1 }) => ({
  type: 'message_start',
  message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, usage },
});
const end = (stop_reason: string, output_tokens = 6) => [
  { type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage: { output_tokens } },
  { type: 'message_stop' },
];

/** Bytes as a response body yields them. */
async function* chunks(parts: (string | Uint8Array)[]): AsyncGenerator<string | Uint8Array> {
  yield* parts;
}

async function run(raw: string, outputTool?: string) {
  const stream = new MessageStream(outputTool);
  const events: ProviderEvent[] = [];
  for await (const ev of sseEvents(chunks([raw]))) events.push(...stream.push(ev));
  return { events, result: () => stream.result('sess-1') };
}

describe('SSE parsing', () => {
  it('reads events split anywhere, CRLF line ends, comments and multi-line data', async () => {
    const raw = ': comment\r\nevent: a\r\ndata: {"x":\r\ndata: 1}\r\n\r\nevent: b\ndata: 2\n\n';
    const out = [];
    for await (const ev of sseEvents(chunks([...raw].map((c) => Buffer.from(c))))) out.push(ev);
    expect(out).toEqual([
      { event: 'a', data: '{"x":\n1}' },
      { event: 'b', data: '2' },
    ]);
  });
});

describe('stream mapping', () => {
  it('yields text deltas and a result with the assembled message and its usage', async () => {
    const { events, result } = await run(
      sse(
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'ping' },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } },
        { type: 'content_block_stop', index: 0 },
        ...end('end_turn'),
      ),
    );
    expect(events).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
    ]);
    expect(result()).toEqual({
      text: 'Hello',
      sessionId: 'sess-1',
      finishReason: 'stop',
      usage: { inputTokens: 10, outputTokens: 6, cacheReadTokens: 4, cacheCreationTokens: 1 },
      raw: expect.objectContaining({ id: 'msg_1', content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn' }),
    });
  });

  it.each([
    ['max_tokens', 'length'],
    ['stop_sequence', 'stop'],
    ['end_turn', 'stop'],
  ])('maps stop_reason %s to %s', async (reason, finish) => {
    const { result } = await run(sse(start(), ...end(reason)));
    expect(result().finishReason).toBe(finish);
  });

  it('yields tool calls as they are generated, indexed among the calls', async () => {
    const { events, result } = await run(
      sse(
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me see.' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Oslo"}' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} } },
        { type: 'content_block_stop', index: 2 },
        ...end('tool_use'),
      ),
    );
    const answer = weatherAnswer(['toolu_1', 'toolu_2']);
    expect(events).toEqual(answer.events);
    expect(result()).toMatchObject({
      text: 'Let me see.',
      finishReason: 'tool_calls',
      toolCalls: answer.toolCalls,
      raw: { content: [{ type: 'text' }, { type: 'tool_use', input: { city: 'Oslo' } }, { type: 'tool_use', input: {} }] },
    });
  });

  it("streams the structured answer's JSON as text and finishes with stop", async () => {
    const { events, result } = await run(
      sse(
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_9', name: OUTPUT_TOOL, input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"n":' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '1}' } },
        { type: 'content_block_stop', index: 0 },
        ...end('tool_use'),
      ),
      OUTPUT_TOOL,
    );
    expect(events).toEqual([
      { type: 'text', text: '{"n":' },
      { type: 'text', text: '1}' },
    ]);
    expect(result()).toMatchObject({ text: '{"n":1}', finishReason: 'stop' });
    expect(result().toolCalls).toBeUndefined();
  });

  it('skips unknown events and deltas (thinking is kept in the raw message only)', async () => {
    const { events, result } = await run(
      sse(
        start(),
        { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: {} } },
        { type: 'content_block_stop', index: 0 },
        { type: 'future_event', whatever: 1 },
        ...end('end_turn'),
      ),
    );
    expect(events).toEqual([]);
    expect(result().raw.content).toEqual([{ type: 'thinking', thinking: 'hmm' }]);
  });

  it('throws an error event as the ProviderError of its type', async () => {
    const err = await run(sse(start(), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'overloaded', code: 'upstream_overloaded', message: expect.stringContaining('Overloaded') });
  });

  it('fails a stream that ends early, or is not JSON', async () => {
    const { result } = await run(sse(start(), { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
    expect(thrown(result)).toMatchObject({ kind: 'upstream', code: 'upstream_stream_incomplete' });
    expect(await run('event: message_start\ndata: {"type":\n\n').catch((e: unknown) => e)).toMatchObject({ kind: 'bad_output' });
  });
});

// The status and type tables, retry-after and transport failures: test/unit/upstream-errors.test.ts.
describe('errors', () => {
  it('name the Anthropic API', () => {
    const body = JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    expect(httpError(529, { 'retry-after': '3' }, body)).toMatchObject({ kind: 'overloaded', retryAfterMs: 3000, message: expect.stringContaining('Anthropic API') });
    expect(streamError({ type: 'rate_limit_error', message: 'm' })).toMatchObject({ kind: 'rate_limited', message: expect.stringContaining('Anthropic API') });
    expect(transportError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'unreachable', message: expect.stringContaining('Anthropic API') });
    expect(retryAfterMs('2')).toBe(2000);
  });
});
