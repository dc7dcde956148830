// The OpenAI wire mapping (src/openai/): request → job, run result → chat.completion, run events →
// stream chunks, and the rendering of records written before results were kept neutral.
import { describe, expect, it } from 'vitest';
import { CancelledError, InvalidRequestError, NotFoundError } from '../../src/core/errors.js';
import { toEventMessage, toProcessObject } from '../../src/openai/records.js';
import { type JobContext, toCompletionJob } from '../../src/openai/request.js';
import { fromChatCompletion, toChatCompletion } from '../../src/openai/response.js';
import { type ChatCompletionRequest, chatCompletionRequestSchema } from '../../src/openai/schemas.js';
import { ChunkStream } from '../../src/openai/stream.js';
import { ANONYMOUS } from '../../src/core/ownership.js';
import { processRecordSchema } from '../../src/core/process-types.js';
import type { RunEvent, RunIds, RunResult } from '../../src/core/run-types.js';

const SESSION = '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f';
const WAITING = '0b6c3f0e-8a44-4d5b-9a1e-2f7d9c3b5a10';

const request = (body: Record<string, unknown>): ChatCompletionRequest =>
  chatCompletionRequestSchema.parse({ model: 'sonnet', ...body });

/** A context whose provider serves `sonnet`, allows Bash and Read, and has a run waiting for `call_wait`. */
const context = (over: Partial<JobContext> = {}): JobContext => ({
  owner: ANONYMOUS,
  allowedTools: ['Bash', 'Read'],
  resolveModel: (name) => (name === 'sonnet' ? 'claude-sonnet' : undefined),
  findWaitingRun: (ids) => (ids.includes('call_wait') ? WAITING : undefined),
  prepareJsonSchema: (schema) => ({ ...schema, prepared: true }),
  ...over,
});

const job = (body: Record<string, unknown>, over?: Partial<JobContext>) => toCompletionJob(request(body), context(over));
const user = (content: string) => ({ role: 'user', content });
const thrown = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
};

describe('request → job', () => {
  it('maps a first turn: the provider model, no session, the new message as the prompt, no tools', () => {
    const j = job({ messages: [{ role: 'system', content: 'be brief' }, user('hi')], max_turns: 3 });
    expect(j).toEqual({
      model: 'sonnet',
      messages: [{ role: 'system', content: 'be brief' }, user('hi')],
      sessionId: undefined,
      settings: {
        model: 'claude-sonnet',
        systemPrompt: 'be brief',
        toolPolicy: { tools: [], allowed: [], disallowed: [] },
        maxTurns: 3,
        clientTools: [],
        parallelToolCalls: true,
        jsonSchema: undefined,
      },
      prompt: 'hi',
      toolResults: undefined,
      stream: false,
      owner: ANONYMOUS,
    });
  });

  it('answers an unknown model with a 404 naming it', () => {
    const err = thrown(() => job({ model: 'gpt-4o', messages: [user('hi')] }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ param: 'model', code: 'model_not_found' });
  });

  it('continues a session with only the messages after the last assistant message', () => {
    const j = job({ session_id: SESSION, messages: [user('one'), { role: 'assistant', content: 'A' }, user('two'), user('three')] });
    expect(j.sessionId).toBe(SESSION);
    expect(j.prompt).toBe('two\n\nthree');
  });

  it('renders the history of a first turn that already holds assistant turns, calls and results included', () => {
    const j = job({
      messages: [
        user('weather?'),
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_old', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bern"}' } }] },
        { role: 'tool', tool_call_id: 'call_old', content: 'rain' },
        { role: 'assistant', content: 'It rains.' },
        user('and tomorrow?'),
      ],
    });
    expect(j.sessionId).toBeUndefined();
    expect(j.prompt).toContain('<conversation_history>\n<turn role="user">\nweather?\n</turn>');
    expect(j.prompt).toContain('<tool_call id="call_old" name="get_weather">{"city":"Bern"}</tool_call>');
    expect(j.prompt).toContain('<turn role="tool" tool_call_id="call_old">\nrain\n</turn>');
    expect(j.prompt.endsWith('\n\nand tomorrow?')).toBe(true);
  });

  const answering = (id: string) => [
    user('weather?'),
    { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: id, content: 'sunny' },
  ];

  it('sends tool results to the run that waits for them, in its session', () => {
    const j = job({ messages: answering('call_wait') });
    expect(j.sessionId).toBe(WAITING);
    expect(j.toolResults).toEqual([{ toolCallId: 'call_wait', content: 'sunny' }]);
    // The fallback prompt, for a run gone meanwhile: just the results, the rest is in the session.
    expect(j.prompt).toBe('The results of your tool calls:\n<turn role="tool" tool_call_id="call_wait">\nsunny\n</turn>\n\nContinue from there.');
  });

  it('runs tool results nobody waits for as a fresh conversation, and those of another session as that session asked', () => {
    const fresh = job({ messages: answering('call_gone') });
    expect(fresh).toMatchObject({ sessionId: undefined, toolResults: undefined });
    expect(fresh.prompt).toContain('<conversation_history>');

    const other = job({ session_id: SESSION, messages: answering('call_wait') });
    expect(other).toMatchObject({ sessionId: SESSION, toolResults: undefined });
  });

  it('enables Claude Code tools within the cap, and exposes the other functions as the client’s', () => {
    const weather = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } };
    const j = job({ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'Bash' } }, weather], allowed_tools: ['Read(/tmp/*)'] });
    expect(j.settings.toolPolicy).toEqual({ tools: ['Bash', 'Read'], allowed: ['Bash', 'Read(/tmp/*)'], disallowed: [] });
    expect(j.settings.clientTools).toEqual([{ name: 'get_weather', description: undefined, parameters: { type: 'object' } }]);
  });

  it('refuses a tool outside the cap with a 400 naming it', () => {
    const err = thrown(() => job({ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'WebFetch' } }] }));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ param: 'tools[0].function.name', code: 'tool_not_allowed' });
    expect((err as Error).message).toContain("tool 'WebFetch' is not allowed");
  });

  const fns = [
    { type: 'function', function: { name: 'a_fn' } },
    { type: 'function', function: { name: 'b_fn' } },
  ];

  it('tool_choice none: no tools at all, though they are still checked', () => {
    const j = job({ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'Bash' } }, ...fns], tool_choice: 'none' });
    expect(j.settings.toolPolicy.tools).toEqual([]);
    expect(j.settings.clientTools).toEqual([]);
    expect(() => job({ messages: [user('hi')], tools: [{ type: 'function', function: { name: 'bad name' } }], tool_choice: 'none' })).toThrow(
      InvalidRequestError,
    );
  });

  it('tool_choice naming a function exposes only that one and tells the model to call it', () => {
    const j = job({ messages: [user('hi')], tools: fns, tool_choice: { type: 'function', function: { name: 'b_fn' } } });
    expect(j.settings.clientTools.map((c) => c.name)).toEqual(['b_fn']);
    expect(j.settings.systemPrompt).toBe('You must call the function b_fn now.');
    expect(thrown(() => job({ messages: [user('hi')], tools: fns, tool_choice: { type: 'function', function: { name: 'c_fn' } } }))).toMatchObject({
      code: 'unknown_function',
    });
  });

  it('tool_choice required asks for a call in the system prompt, after the client’s own', () => {
    const j = job({ messages: [{ role: 'system', content: 'be brief' }, user('hi')], tools: fns, tool_choice: 'required' });
    expect(j.settings.systemPrompt).toBe('be brief\n\nYou must call at least one of the available functions before you answer.');
  });

  it('takes the schema of json_schema as the provider prepares it, any object for json_object', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    expect(job({ messages: [user('hi')], response_format: { type: 'json_schema', json_schema: { name: 's', schema } } }).settings.jsonSchema).toEqual({
      ...schema,
      prepared: true,
    });
    expect(job({ messages: [user('hi')], response_format: { type: 'json_object' } }).settings.jsonSchema).toEqual({ type: 'object' });
  });

  it('streams only when asked', () => {
    expect(job({ messages: [user('hi')], stream: true }).stream).toBe(true);
    expect(job({ messages: [user('hi')], stream: null }).stream).toBe(false);
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
    const stored = processRecordSchema.parse(record);
    expect(stored.result).toEqual(fromChatCompletion(legacy));
    expect(JSON.stringify(toProcessObject(stored).result)).toBe(JSON.stringify(legacy));
    expect(toEventMessage({ seq: 1, type: 'PROCESS_COMPLETE', ts: 1, process_id: IDS.processId, session_id: SESSION, status: 'completed', model: 'm', key_id: null, result: stored.result! }).result).toEqual(legacy);
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
