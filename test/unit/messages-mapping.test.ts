// The Anthropic Messages API mapping (src/messages/): request → job (a neutral ChatRequest), run
// result → message, run events → the Messages API's stream events, GatewayErrors → Anthropic's error
// body, and the count_tokens estimate. Pure: no gateway, no HTTP.
import { describe, expect, it } from 'vitest';
import { chatRequestSchema } from '../../providers/types.js';
import { CancelledError, GatewayError, InvalidRequestError, NotFoundError, QueueFullError } from '../../src/core/errors.js';
import type { RunEvent, RunIds, RunResult } from '../../src/core/run-types.js';
import { anthropicErrorType, toAnthropicError } from '../../src/messages/errors.js';
import { estimateInputTokens, toMessagesJob } from '../../src/messages/request.js';
import { toMessage } from '../../src/messages/response.js';
import { countTokensRequestSchema, messageSchema, messagesRequestSchema } from '../../src/messages/schemas.js';
import { MessageStream, type StreamEvent } from '../../src/messages/stream.js';
import { parseWith } from '../../src/validation.js';
import { thrown } from './thrown.js';

const body = (over: Record<string, unknown>) => ({ model: 'sonnet', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], ...over });
/** The job of a body, with a provider that serves `sonnet` as `claude-sonnet`. */
const job = (over: Record<string, unknown>) =>
  toMessagesJob(parseWith(messagesRequestSchema, body(over)), {
    resolveModel: (name) => (name === 'sonnet' ? 'claude-sonnet' : undefined),
  });
const chat = (over: Record<string, unknown>) => chatRequestSchema.parse(job(over).request);
const text = (t: string) => [{ type: 'text', text: t }];
const PNG = 'iVBORw0KGgo=';

describe('request → job', () => {
  it('maps a first turn: the provider model, a system prompt first, a new session, sampling hints', () => {
    const j = job({ system: 'be brief', temperature: 0.5, stop_sequences: ['END'], top_p: 0.9, top_k: 5, metadata: { user_id: 'u1' } });
    expect(j.model).toBe('sonnet');
    // The session log's messages: the system prompt first, string contents as one text block.
    expect(j.messages).toEqual([{ role: 'system', content: 'be brief' }, { role: 'user', content: text('hi') }]);
    expect(chatRequestSchema.parse(j.request)).toEqual({
      model: 'claude-sonnet',
      messages: [
        { role: 'system', content: text('be brief') },
        { role: 'user', content: text('hi') },
      ],
      tools: [],
      permissions: { allow: [], deny: [] },
      toolChoice: 'auto',
      parallelToolCalls: true,
      sampling: { temperature: 0.5, maxTokens: 1024, stop: ['END'] },
      session: { kind: 'new' },
      stream: false,
    });
  });

  it('takes system text blocks (cache_control ignored) and drops an empty system', () => {
    const blocks = [{ type: 'text', text: 'one' }, { type: 'text', text: 'two', cache_control: { type: 'ephemeral' } }];
    expect(chat({ system: blocks }).messages[0]).toEqual({ role: 'system', content: [...text('one'), ...text('two')] });
    expect(chat({ system: [] }).messages).toEqual([{ role: 'user', content: text('hi') }]);
  });

  it('maps image blocks, base64 and URL, to image parts beside the text', () => {
    const content = [
      { type: 'text', text: 'what is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ];
    expect(chat({ messages: [{ role: 'user', content }] }).messages[0]!.content).toEqual([
      { type: 'text', text: 'what is this?' },
      { type: 'image', url: `data:image/png;base64,${PNG}` },
      { type: 'image', url: 'https://example.com/cat.jpg' },
    ]);
  });

  it('maps tool_use to tool calls and tool_result to tool messages, before the text that follows them', () => {
    const messages = [
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'no such city' }], is_error: true },
          { type: 'text', text: 'and tomorrow?' },
        ],
      },
    ];
    expect(chat({ messages }).messages).toEqual([
      { role: 'user', content: text('weather?') },
      { role: 'assistant', content: text('Let me check.'), toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"location":"Paris"}' }] },
      { role: 'tool', toolCallId: 'toolu_1', content: text('sunny') },
      { role: 'tool', toolCallId: 'toolu_2', content: text('Error: no such city') },
      { role: 'user', content: text('and tomorrow?') },
    ]);
    // Results alone make no empty user message.
    const only = [...messages.slice(0, 2), { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1' }] }];
    expect(chat({ messages: only }).messages.at(-1)).toEqual({ role: 'tool', toolCallId: 'toolu_1', content: [] });
  });

  it('keeps Claude Code’s system entries among the messages, dropping empty ones, and accepts what it sends besides', () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      { role: 'system', content: [{ type: 'text', text: '# Environment' }] },
      { role: 'system', content: [], output_config: { effort: 'medium' } },
    ];
    const extra = {
      thinking: { type: 'adaptive', display: 'omitted' },
      output_config: { effort: 'medium' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      metadata: { user_id: '{"session_id":"x"}' },
      betas: ['claude-code-20250219'],
      stream: true,
    };
    const r = chat({ messages, ...extra });
    expect(r.messages).toEqual([{ role: 'user', content: text('hi') }, { role: 'system', content: text('# Environment') }]);
    expect(r.stream).toBe(true);
  });

  it('maps tools to functions and tool_choice to the neutral choice', () => {
    const tools = [
      { name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } },
      { name: 'Bash', input_schema: { type: 'object' }, defer_loading: true },
      { type: 'custom', name: 'noargs' },
    ];
    const r = chat({ tools });
    expect(r.tools).toEqual([
      { name: 'get_weather', description: 'weather', parameters: tools[0]!.input_schema, clientOnly: true },
      // Named like a Claude Code tool, still the client's own: Claude Code runs its Bash itself.
      { name: 'Bash', parameters: { type: 'object' }, clientOnly: true },
      { name: 'noargs', parameters: { type: 'object', properties: {} }, clientOnly: true },
    ]);
    expect(chat({ tools, tool_choice: { type: 'any' } }).toolChoice).toBe('required');
    expect(chat({ tools, tool_choice: { type: 'none' } }).toolChoice).toBe('none');
    expect(chat({ tools, tool_choice: { type: 'auto', disable_parallel_tool_use: true } })).toMatchObject({ toolChoice: 'auto', parallelToolCalls: false });
    expect(chat({ tools, tool_choice: { type: 'tool', name: 'get_weather' } }).toolChoice).toEqual({ name: 'get_weather' });
  });

  it('refuses with a 400 naming the field: missing max_tokens, bad blocks, server tools; 404 for an unknown model', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ max_tokens: undefined }, 'max_tokens'],
      [{ messages: [] }, 'messages'],
      [{ messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text'],
      [{ messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: 'x' } }] }] }, 'messages[0].content[0].source.media_type'],
      [{ messages: [{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'system', content: 'only a system' }] }, 'messages'],
      [{ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0].type'],
      [{ temperature: 3 }, 'temperature'],
    ];
    for (const [over, param] of cases) {
      const err = thrown(() => job(over));
      expect(err, param).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).param, JSON.stringify(over)).toBe(param);
    }
    expect(thrown(() => job({ model: 'gpt-4o' }))).toBeInstanceOf(NotFoundError);
  });
});

const RESULT: RunResult = {
  completionId: 'abc123',
  created: 1_700_000_000,
  model: 'claude-sonnet-4-5-20250929',
  processId: 'proc_1',
  sessionId: 'sess',
  text: 'Hello',
  finishReason: 'stop',
  usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 3, cacheCreationTokens: 2 },
  raw: {},
};

describe('result → message', () => {
  it('renders text, stop reason and Anthropic usage (cache counts apart), with the gateway’s ids', () => {
    const m = toMessage(RESULT);
    expect(messageSchema.parse(m)).toEqual({
      id: 'msg_abc123',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: 'Hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 },
      session_id: 'sess',
      process_id: 'proc_1',
    });
    expect(toMessage({ ...RESULT, finishReason: 'length' }).stop_reason).toBe('max_tokens');
  });

  it('renders tool calls as tool_use blocks with parsed input, and no empty text beside them', () => {
    const calls = [{ id: 'toolu_1', name: 'get_weather', arguments: '{"location":"Paris"}' }];
    const m = toMessage({ ...RESULT, text: '', toolCalls: calls, finishReason: 'tool_calls' });
    expect(m.stop_reason).toBe('tool_use');
    expect(m.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } }]);
  });
});

const IDS: RunIds = { completionId: 'abc123', created: 1, model: 'sonnet', processId: 'proc_1' };
const types = (events: StreamEvent[]) => events.map((e) => e.event);

describe('run events → stream events', () => {
  it('streams text in one block, then the stop reason and usage, each event naming its type twice', () => {
    const s = new MessageStream(IDS);
    const out = [
      ...s.start('sess'),
      ...s.push({ type: 'text', text: 'Hel' }),
      ...s.push({ type: 'text', text: 'lo' }),
      ...s.push({ type: 'outcome', outcome: { result: RESULT } }),
    ];
    expect(types(out)).toEqual([
      'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    for (const e of out) expect(e.data.type).toBe(e.event);
    expect(out[0]!.data.message).toMatchObject({ id: 'msg_abc123', content: [], stop_reason: null, session_id: 'sess' });
    expect(out[3]!.data).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } });
    expect(out[6]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 3, cache_creation_input_tokens: 2 },
    });
  });

  it('streams tool calls as tool_use blocks with input_json_delta, and adds the calls not streamed', () => {
    const s = new MessageStream(IDS);
    const events: RunEvent[] = [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call_start', index: 0, id: 'toolu_1', name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, arguments: '{"location":' },
      { type: 'tool_call_delta', index: 0, arguments: '"Paris"}' },
    ];
    const calls = [
      { id: 'toolu_1', name: 'get_weather', arguments: '{"location":"Paris"}' },
      { id: 'toolu_2', name: 'get_time', arguments: '{}' },
    ];
    const result = { ...RESULT, text: 'Checking.', toolCalls: calls, finishReason: 'tool_calls' as const };
    const out = [...events.flatMap((e) => s.push(e)), ...s.push({ type: 'outcome', outcome: { result } })];
    const starts = out.filter((e) => e.event === 'content_block_start').map((e) => e.data);
    expect(starts).toEqual([
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} } },
    ]);
    const json = out.filter((e) => (e.data.delta as { type?: string } | undefined)?.type === 'input_json_delta');
    expect(json.map((e) => [e.data.index, (e.data.delta as { partial_json: string }).partial_json])).toEqual([
      [1, '{"location":'],
      [1, '"Paris"}'],
      [2, '{}'],
    ]);
    expect(out.filter((e) => e.event === 'content_block_stop').map((e) => e.data.index)).toEqual([0, 1, 2]);
    expect(out.at(-2)!.data.delta).toEqual({ stop_reason: 'tool_use', stop_sequence: null });
  });

  it('sends an answer that came whole (no deltas) as one text block; an error as the last event', () => {
    const whole = new MessageStream(IDS).push({ type: 'outcome', outcome: { result: RESULT } });
    expect(types(whole)).toEqual(['content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    const failed = new MessageStream(IDS).push({ type: 'outcome', outcome: { error: new CancelledError('deleted') } });
    expect(failed).toEqual([{ event: 'error', data: { type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } } }]);
  });
});

describe('errors → Anthropic error bodies', () => {
  it('types errors by status, as the Messages API does', () => {
    expect(toAnthropicError(new InvalidRequestError('bad', 'model'))).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'bad' } });
    expect(toAnthropicError(new QueueFullError(5)).error.type).toBe('rate_limit_error');
    const table: [number, string][] = [
      [401, 'authentication_error'], [403, 'permission_error'], [404, 'not_found_error'], [413, 'request_too_large'],
      [429, 'rate_limit_error'], [500, 'api_error'], [502, 'api_error'], [503, 'overloaded_error'], [529, 'overloaded_error'],
      [504, 'timeout_error'], [409, 'invalid_request_error'],
    ];
    for (const [status, type] of table) {
      expect(anthropicErrorType(status), String(status)).toBe(type);
      expect(toAnthropicError(new GatewayError(status, 'x', 'm')).error.type).toBe(type);
    }
  });
});

describe('count_tokens estimate', () => {
  it('is the characters over four, rounded up, plus a fixed count per image', () => {
    const count = (over: Record<string, unknown>) => estimateInputTokens(countTokensRequestSchema.parse({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }], ...over }));
    expect(count({})).toBe(1);
    expect(count({ system: 'x'.repeat(10) })).toBe(3);
    const image = { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } };
    expect(count({ messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, image] }] })).toBe(1 + 1_334);
    expect(count({ tools: [{ name: 'f', input_schema: { type: 'object' } }] })).toBeGreaterThan(count({}));
  });
});
