// The OpenAI wire mapping (src/openai/): request → job (a neutral ChatRequest), run result →
// chat.completion, run events → stream chunks, and the rendering of records written before results
// were kept neutral. What the Claude CLI makes of a ChatRequest is in claude-cli-request.test.ts.
import { describe, expect, it } from 'vitest';
import { chatRequestSchema } from '../../providers/types.js';
import { CancelledError, InvalidRequestError, NotFoundError } from '../../src/core/errors.js';
import { toEventMessage, toProcessObject } from '../../src/openai/records.js';
import { toCompletionJob } from '../../src/openai/request.js';
import { fromChatCompletion, toChatCompletion } from '../../src/openai/response.js';
import { chatCompletionRequestSchema } from '../../src/openai/schemas.js';
import { ChunkStream } from '../../src/openai/stream.js';
import { processRecordSchema } from '../../src/core/process-types.js';
import { readingLegacyResults } from '../../src/stores/jsonl/legacy.js';
import type { RunEvent, RunIds, RunResult } from '../../src/core/run-types.js';
import { thrown } from './thrown.js';

const SESSION = '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f';

/** The job of a body, with a provider that serves `sonnet` as `claude-sonnet`. */
const job = (body: Record<string, unknown>) =>
  toCompletionJob(chatCompletionRequestSchema.parse({ model: 'sonnet', ...body }), {
    resolveModel: (name) => (name === 'sonnet' ? 'claude-sonnet' : undefined),
  });
/** The ChatRequest of a body, checked against its schema. */
const chat = (body: Record<string, unknown>) => chatRequestSchema.parse(job(body).request);
const user = (content: string) => ({ role: 'user', content });
const text = (t: string) => [{ type: 'text', text: t }];

describe('request → job', () => {
  it('maps a first turn: the provider model, every message, a new session, no tools, defaults for the rest', () => {
    const messages = [{ role: 'system', content: 'be brief' }, user('hi')];
    const j = job({ messages, max_turns: 3 });
    expect(j).toEqual({ model: 'sonnet', messages, request: expect.anything() });
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
      sampling: {},
      session: { kind: 'new' },
      maxTurns: 3,
      stream: false,
    });
  });

  it('answers an unknown model with a 404 naming it', () => {
    const err = thrown(() => job({ model: 'gpt-4o', messages: [user('hi')] }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ param: 'model', code: 'model_not_found' });
  });

  it('continues a session with every message: which are new is the provider’s call', () => {
    const r = chat({ session_id: SESSION, messages: [user('one'), { role: 'assistant', content: 'A' }, user('two')] });
    expect(r.session).toEqual({ kind: 'continue', sessionId: SESSION });
    expect(r.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('maps developer messages to system ones, assistant tool calls and tool results, index for index', () => {
    const r = chat({
      messages: [
        { role: 'developer', content: 'rules' },
        user('weather?'),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bern"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'rain' }] },
      ],
    });
    expect(r.messages).toEqual([
      { role: 'system', content: text('rules') },
      { role: 'user', content: text('weather?') },
      { role: 'assistant', content: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Bern"}' }] },
      { role: 'tool', toolCallId: 'call_1', content: text('rain') },
    ]);
  });

  it('keeps text and image parts; any other part is a 400 naming it', () => {
    const parts = [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }];
    expect(chat({ messages: [{ role: 'user', content: parts }] }).messages[0]!.content).toEqual([
      { type: 'text', text: 'what is this?' },
      { type: 'image', url: 'data:image/png;base64,AAAA' },
    ]);
    for (const part of [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }, { type: 'image_url', image_url: 'not an object' }]) {
      const err = thrown(() => job({ messages: [user('hi'), { role: 'user', content: [{ type: 'text', text: 'a' }, part] }] }));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err).toMatchObject({ param: 'messages[1].content[1].type', code: 'unsupported_content_part' });
    }
  });

  it('passes every function tool on, whatever its name, with the permission rules as they are', () => {
    const r = chat({
      messages: [user('hi')],
      tools: [{ type: 'function', function: { name: 'Bash' } }, { type: 'function', function: { name: 'get_weather', description: 'd', parameters: { type: 'object' } } }],
      allowed_tools: ['Read(/tmp/*)'],
      disallowed_tools: ['Bash(rm *)'],
      parallel_tool_calls: false,
    });
    expect(r.tools).toEqual([
      // OpenAI: a function without parameters takes none.
      { name: 'Bash', parameters: { type: 'object', properties: {} } },
      { name: 'get_weather', description: 'd', parameters: { type: 'object' } },
    ]);
    expect(r.permissions).toEqual({ allow: ['Read(/tmp/*)'], deny: ['Bash(rm *)'] });
    expect(r.parallelToolCalls).toBe(false);
  });

  it('maps tool_choice: its strings as they are, a named function by its name', () => {
    for (const choice of ['none', 'auto', 'required'] as const) expect(chat({ messages: [user('hi')], tool_choice: choice }).toolChoice).toBe(choice);
    expect(chat({ messages: [user('hi')], tool_choice: { type: 'function', function: { name: 'f' } } }).toolChoice).toEqual({ name: 'f' });
  });

  it('asks for the schema of json_schema (an object when it has none), any object for json_object', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    const format = (response_format: unknown) => chat({ messages: [user('hi')], response_format }).responseFormat;
    expect(format({ type: 'json_schema', json_schema: { name: 's', schema } })).toEqual({ type: 'json_schema', schema });
    expect(format({ type: 'json_schema', json_schema: { name: 's' } })).toEqual({ type: 'json_schema', schema: { type: 'object' } });
    expect(format({ type: 'json_object' })).toEqual({ type: 'json_schema', schema: { type: 'object' } });
    expect(format({ type: 'text' })).toBeUndefined();
  });

  it('passes sampling hints on: max_completion_tokens over max_tokens, stop always a list', () => {
    expect(chat({ messages: [user('hi')], temperature: 0.2, max_tokens: 10, max_completion_tokens: 20, stop: 'END' }).sampling).toEqual({
      temperature: 0.2,
      maxTokens: 20,
      stop: ['END'],
    });
    expect(chat({ messages: [user('hi')], max_tokens: 10, stop: ['a', 'b'] }).sampling).toEqual({ maxTokens: 10, stop: ['a', 'b'] });
  });

  it('streams only when asked', () => {
    expect(chat({ messages: [user('hi')], stream: true }).stream).toBe(true);
    expect(chat({ messages: [user('hi')], stream: null }).stream).toBe(false);
  });

  it('keeps the fields it does not interpret as passthrough, for providers of the same wire format', () => {
    const r = chat({
      messages: [user('hi')],
      top_p: 0.5,
      seed: 3,
      user: 'u1',
      logit_bias: { '42': -100 },
      chat_template_kwargs: { enable_thinking: false },
      presence_penalty: null,
      // interpreted by the gateway: never passed on
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 9,
      tools: [{ type: 'function', function: { name: 'f' } }],
      session_id: SESSION,
      background: false,
      max_turns: 2,
      allowed_tools: ['Read'],
      cache: false,
    });
    expect(r.passthrough).toEqual({ top_p: 0.5, seed: 3, user: 'u1', logit_bias: { '42': -100 }, chat_template_kwargs: { enable_thinking: false } });
    expect(chat({ messages: [user('hi')], temperature: 1 }).passthrough).toBeUndefined();
  });
});

const IDS: RunIds = { completionId: '0123456789abcdef0123456789abcdef', created: 1_700_000_000, model: 'claude-cli/sonnet', processId: `proc_${'a'.repeat(32)}` };
const USAGE = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 100, cacheCreationTokens: 20 };
const result = (over: Partial<RunResult> = {}): RunResult => ({
  ...IDS,
  sessionId: SESSION,
  text: 'Hello.',
  finishReason: 'stop',
  usage: USAGE,
  raw: { type: 'result', subtype: 'success' },
  ...over,
});
const CALLS = [
  { id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
  { id: 'call_2', name: 'get_time', arguments: '{}' },
];

describe('result → chat.completion', () => {
  it('is a standard chat.completion with the gateway’s fields', () => {
    expect(toChatCompletion(result())).toEqual({
      id: `chatcmpl-${IDS.completionId}`,
      object: 'chat.completion',
      created: IDS.created,
      model: 'claude-cli/sonnet',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.', refusal: null }, finish_reason: 'stop', logprobs: null }],
      // Cache reads and writes are input too; reads are reported as cached.
      usage: { prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } },
      session_id: SESSION,
      process_id: IDS.processId,
      claude_metadata: { type: 'result', subtype: 'success' },
    });
  });

  it('has null content next to tool calls without text, the text when there is some', () => {
    const bare = toChatCompletion(result({ text: '', toolCalls: CALLS, finishReason: 'tool_calls' })).choices[0]!;
    expect(bare.finish_reason).toBe('tool_calls');
    expect(bare.message.content).toBeNull();
    expect(bare.message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    expect(toChatCompletion(result({ text: 'Checking.', toolCalls: CALLS, finishReason: 'tool_calls' })).choices[0]!.message.content).toBe('Checking.');
    // Without calls an empty answer stays a string.
    expect(toChatCompletion(result({ text: '' })).choices[0]!.message).toEqual({ role: 'assistant', content: '', refusal: null });
  });

  it('keeps the finish reason', () => {
    expect(toChatCompletion(result({ finishReason: 'length' })).choices[0]!.finish_reason).toBe('length');
  });
});

describe('records written before results were kept neutral', () => {
  const legacy = toChatCompletion(result({ text: '', toolCalls: CALLS, finishReason: 'tool_calls' }));
  const record = {
    id: IDS.processId,
    object: 'process',
    status: 'completed',
    model: 'claude-cli/sonnet',
    session_id: SESSION,
    created_at: 1_700_000_000.25,
    started_at: 1_700_000_000.5,
    completed_at: 1_700_000_001.75,
    result: legacy,
    error: null,
    required_action: null,
  };

  it('are read back neutral and rendered as they were, byte for byte', () => {
    // Reading the older files is the JSONL store's part.
    const stored = readingLegacyResults(processRecordSchema).parse(record);
    expect(stored.result).toEqual(fromChatCompletion(legacy));
    expect(JSON.stringify(toProcessObject(stored).result)).toBe(JSON.stringify(legacy));
    const message = toEventMessage({ seq: 1, type: 'PROCESS_COMPLETE', ts: 1, process_id: IDS.processId, session_id: SESSION, status: 'completed', model: 'm', key_id: null, result: stored.result! });
    expect(message.type === 'PROCESS_COMPLETE' && message.result).toEqual(legacy);
  });

  it('keep their usage totals when cache writes were counted in', () => {
    const old = toChatCompletion(result());
    expect(toChatCompletion(fromChatCompletion(old))).toEqual(old);
  });
});

describe('run events → stream chunks', () => {
  const outcome = (o: Extract<RunEvent, { type: 'outcome' }>['outcome']): RunEvent => ({ type: 'outcome', outcome: o });
  const deltas = (data: unknown[]) => data.map((d) => (typeof d === 'string' ? d : (d as any).choices?.[0]?.delta ?? d));

  it('starts with the role and the ids, then one chunk per text delta, all with the answer’s id', () => {
    const s = new ChunkStream(IDS, false);
    expect(s.start(SESSION)).toEqual({
      id: `chatcmpl-${IDS.completionId}`,
      object: 'chat.completion.chunk',
      created: IDS.created,
      model: 'claude-cli/sonnet',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }],
      session_id: SESSION,
      process_id: IDS.processId,
    });
    const [chunk] = s.push({ type: 'text', text: 'Hel' });
    expect(chunk).toEqual({ ...s.start(SESSION), choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null, logprobs: null }], session_id: undefined, process_id: undefined });
    expect(chunk).not.toHaveProperty('session_id');
    // Events clients do not see add nothing.
    expect(s.push({ type: 'tool_use', id: 't', name: 'Bash', input: {} })).toEqual([]);
  });

  it('streams a tool call as it is generated: id and name first, then argument fragments', () => {
    const s = new ChunkStream(IDS, false);
    expect(deltas(s.push({ type: 'tool_call_start', index: 0, id: 'call_1', name: 'get_weather' }))).toEqual([
      { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
    ]);
    expect(deltas(s.push({ type: 'tool_call_delta', index: 0, arguments: '{"city":' }))).toEqual([{ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }]);
  });

  it('ends with the calls not streamed yet (whole), the finish chunk, usage when asked, and [DONE]', () => {
    const s = new ChunkStream(IDS, true);
    s.push({ type: 'tool_call_start', index: 0, id: 'call_1', name: 'get_weather' });
    const end = s.push(outcome({ result: result({ text: '', toolCalls: CALLS, finishReason: 'tool_calls' }) }));
    expect(end).toHaveLength(4);
    expect(deltas(end.slice(0, 1))).toEqual([{ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }]);
    expect(end[1]).toMatchObject({
      choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls', logprobs: null }],
      session_id: SESSION,
      claude_metadata: { type: 'result', subtype: 'success' },
    });
    expect(end[2]).toMatchObject({
      id: `chatcmpl-${IDS.completionId}`,
      choices: [],
      usage: { prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } },
    });
    expect(end[3]).toBe('[DONE]');
  });

  it('without include_usage ends with the finish chunk and [DONE]', () => {
    const end = new ChunkStream(IDS, false).push(outcome({ result: result() }));
    expect(end).toHaveLength(2);
    expect(end[0]).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
    expect(end[1]).toBe('[DONE]');
  });

  it('ends with the error alone when the run failed', () => {
    const end = new ChunkStream(IDS, true).push(outcome({ error: new CancelledError('deleted') }));
    expect(end).toEqual([{ error: new CancelledError('deleted').toJSON() }]);
  });
});
