// The Responses API mapping (src/responses/), pure: request → job, record → response, run events → typed events.
import { describe, expect, it } from 'vitest';
import { GatewayError, InvalidRequestError } from '../../src/core/errors.js';
import type { ProcessRecord } from '../../src/core/process-types.js';
import type { RunResult } from '../../src/core/run-types.js';
import { type ResponseJobContext, responsesParam, toResponseJob, withResponsesParam } from '../../src/responses/request.js';
import { inputItemsPage, outputAsInput, processIdOf, responseIdOf, responseMeta, toResponse } from '../../src/responses/response.js';
import { createResponseRequestSchema, inputItemsQuerySchema } from '../../src/responses/schemas.js';
import { ResponseEventStream } from '../../src/responses/stream.js';

const HEX = '0123456789abcdef0123456789abcdef';
const parse = (body: unknown) => createResponseRequestSchema.parse(body);
const ctx: ResponseJobContext = { resolveModel: (m: string) => (m === 'sonnet' ? 'sonnet' : undefined), session: { kind: 'new' } };
const job = (body: unknown, extra: Partial<ResponseJobContext> = {}) => toResponseJob(parse(body), { ...ctx, ...extra });

const result = (over: Partial<RunResult> = {}): RunResult => ({
  completionId: 'c'.repeat(32),
  created: 1_767_225_600,
  model: 'sonnet',
  processId: `proc_${HEX}`,
  sessionId: 's-1',
  text: 'Paris.',
  finishReason: 'stop',
  usage: { inputTokens: 10, outputTokens: 3, cacheReadTokens: 4, cacheCreationTokens: 1 },
  raw: {},
  ...over,
});

function record(body: unknown, over: Partial<ProcessRecord> = {}): ProcessRecord {
  return {
    id: `proc_${HEX}`,
    object: 'process',
    status: 'completed',
    model: 'sonnet',
    session_id: 's-1',
    created_at: 1_767_225_600.25,
    started_at: 1_767_225_600.3,
    completed_at: 1_767_225_601.5,
    result: result(),
    error: null,
    required_action: null,
    key_id: null,
    attempts: [],
    cost_usd: null,
    meta: job(body).job.meta!,
    ...over,
  };
}

describe('request → job', () => {
  it('maps a string input, instructions and the sampling hints', () => {
    const { job: j } = job({
      model: 'sonnet',
      input: 'hi',
      instructions: 'be brief',
      temperature: 0.2,
      top_p: 0.9,
      max_output_tokens: 50,
      reasoning: { effort: 'xhigh' },
      user: 'u1',
      truncation: 'auto',
      include: ['reasoning.encrypted_content'],
      service_tier: 'auto',
      prompt_cache_key: 'k',
    });
    expect(j.request.messages).toEqual([
      { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
    ]);
    expect(j.request.sampling).toEqual({ temperature: 0.2, maxTokens: 50, reasoningEffort: 'high' });
    expect(j.request.passthrough).toEqual({ top_p: 0.9, user: 'u1' });
    expect(j.request.session).toEqual({ kind: 'new' });
    expect(j.request.tools).toEqual([]);
    expect(j.request.toolChoice).toBe('auto');
    expect(j.meta).toMatchObject({ object: 'response', instructions: 'be brief', store: true, background: false, input: [{ type: 'message', role: 'user' }] });
    expect(job({ model: 'sonnet', input: 'x', reasoning: { effort: 'none' } }).job.request.sampling.reasoningEffort).toBeUndefined();
  });

  it('maps items: messages, images, and function calls joined to the assistant message before them', () => {
    const { job: j, sources } = job({
      model: 'sonnet',
      input: [
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'https://x.example/a.png', detail: 'auto' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'calling', annotations: [] }] },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{}' },
        { type: 'function_call', call_id: 'call_2', name: 'g', arguments: '{"a":1}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'one' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'two' }] },
      ],
    });
    expect(j.request.messages).toEqual([
      { role: 'system', content: [{ type: 'text', text: 'rules' }] },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', url: 'https://x.example/a.png' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'calling' }], toolCalls: [{ id: 'call_1', name: 'f', arguments: '{}' }, { id: 'call_2', name: 'g', arguments: '{"a":1}' }] },
      { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: 'one' }] },
      { role: 'tool', toolCallId: 'call_2', content: [{ type: 'text', text: 'two' }] },
    ]);
    expect(sources.map((s) => s.item)).toEqual(['input[0]', 'input[1]', 'input[2]', 'input[5]', 'input[6]']);
    // A call with no assistant message before it opens one.
    expect(job({ model: 'sonnet', input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'r' }] }).job.request.messages[0]).toEqual({
      role: 'assistant',
      content: [],
      toolCalls: [{ id: 'c', name: 'f', arguments: '{}' }],
    });
  });

  it('maps tools, tool_choice, parallel_tool_calls and text.format', () => {
    const { job: j } = job({
      model: 'sonnet',
      input: 'x',
      tools: [{ type: 'function', name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { a: { type: 'string' } } }, strict: true }, { type: 'function', name: 'Read' }],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object', properties: { n: { type: 'number' } } }, strict: true } },
    });
    expect(j.request.tools).toEqual([
      { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { a: { type: 'string' } } } },
      { name: 'Read', description: undefined, parameters: { type: 'object', properties: {} } },
    ]);
    expect(j.request.toolChoice).toEqual({ name: 'get_weather' });
    expect(j.request.parallelToolCalls).toBe(false);
    expect(j.request.responseFormat).toEqual({ type: 'json_schema', schema: { type: 'object', properties: { n: { type: 'number' } } } });
    expect(job({ model: 'sonnet', input: 'x', text: { format: { type: 'json_object' } } }).job.request.responseFormat).toEqual({ type: 'json_schema', schema: { type: 'object' } });
    expect(job({ model: 'sonnet', input: 'x', text: { format: { type: 'text' } } }).job.request.responseFormat).toBeUndefined();
  });

  it('continues or forks as the context says: a fork sends the history before the input', () => {
    const cont = job({ model: 'sonnet', input: 'next', previous_response_id: `resp_${HEX}` }, { session: { kind: 'continue', sessionId: 's-1' } });
    expect(cont.job.request.session).toEqual({ kind: 'continue', sessionId: 's-1' });
    expect(cont.job.meta!.previous_response_id).toBe(`resp_${HEX}`);
    const history = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'first' }] }, ...outputAsInput(result())];
    const fork = job({ model: 'sonnet', input: 'branch' }, { history: history as any });
    expect(fork.job.request.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(fork.sources.map((s) => s.item)).toEqual(['previous_response_id', 'previous_response_id', 'input[0]']);
  });

  it('refuses an unknown model, and names bad fields', () => {
    expect(() => job({ model: 'gpt-9', input: 'x' })).toThrow(/does not exist/);
    const issue = (body: unknown) => createResponseRequestSchema.safeParse(body).error?.issues[0]?.path.join('.');
    expect(issue({ model: 'sonnet', input: [{ type: 'message', role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] })).toBe('input.0.content.0.type');
    expect(issue({ model: 'sonnet', input: 'x', tools: [{ type: 'file_search' }] })).toBe('tools.0.type');
    expect(issue({ model: 'sonnet', input: 'x', conversation: 'conv_1' })).toBe('conversation');
    expect(issue({ model: 'sonnet', input: 'x', metadata: { k: 'v'.repeat(513) } })).toBe('metadata.k');
  });

  it("names a provider's chat fields as the Responses request's", () => {
    const { sources } = job({ model: 'sonnet', instructions: 'sys', input: [{ role: 'user', content: 'a' }, { type: 'function_call_output', call_id: 'c', output: 'r' }] });
    expect(responsesParam('messages[1].content[0].type', sources)).toBe('input[0].content[0].type');
    expect(responsesParam('messages[2].content[0]', sources)).toBe('input[1].output[0]');
    expect(responsesParam('messages[0]', sources)).toBe('instructions');
    expect(responsesParam('tools[3].function.name', sources)).toBe('tools[3].name');
    expect(responsesParam('response_format.json_schema.schema', sources)).toBe('text.format.schema');
    expect(responsesParam('messages', sources)).toBe('input');
    expect(responsesParam('tool_choice', sources)).toBe('tool_choice');
    expect(responsesParam(null, sources)).toBeNull();
    const err = withResponsesParam(new InvalidRequestError('bad', 'tools[0].function.name', 'tool_not_allowed'), sources);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.toJSON()).toEqual({ message: 'bad', type: 'invalid_request_error', param: 'tools[0].name', code: 'tool_not_allowed' });
  });
});

describe('record → response', () => {
  it('renders a completed answer with its usage, ids and echoed request', () => {
    const body = { model: 'sonnet', input: 'x', instructions: 'i', metadata: { a: 'b' }, tools: [{ type: 'function', name: 'f' }], store: false };
    const r = toResponse(record(body), responseMeta(record(body))!);
    expect(r).toMatchObject({
      id: `resp_${HEX}`,
      object: 'response',
      created_at: 1_767_225_600,
      completed_at: 1_767_225_601,
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: 'i',
      metadata: { a: 'b' },
      store: false,
      tools: [{ type: 'function', name: 'f', description: null, parameters: null, strict: null }],
      session_id: 's-1',
      process_id: `proc_${HEX}`,
    });
    expect(r.output).toEqual([{ id: `msg_${'c'.repeat(32)}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Paris.', annotations: [] }] }]);
    expect(r.usage).toEqual({ input_tokens: 15, input_tokens_details: { cached_tokens: 4 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 18 });
    expect(responseIdOf(`proc_${HEX}`)).toBe(`resp_${HEX}`);
    expect(processIdOf(`resp_${HEX}`)).toBe(`proc_${HEX}`);
    expect(processIdOf('resp_nope')).toBeUndefined();
  });

  it('maps the statuses: waiting for function results is completed with function_call items', () => {
    const body = { model: 'sonnet', input: 'x' };
    const meta = responseMeta(record(body))!;
    const waiting = record(body, { status: 'requires_action', result: result({ text: '', finishReason: 'tool_calls', toolCalls: [{ id: 'toolu_9', name: 'f', arguments: '{"a":1}' }] }) });
    const r = toResponse(waiting, meta);
    expect(r.status).toBe('completed');
    expect(r.output).toEqual([{ id: 'fc_9', type: 'function_call', call_id: 'toolu_9', name: 'f', arguments: '{"a":1}', status: 'completed' }]);
    expect(toResponse(record(body, { status: 'queued', result: null, completed_at: null }), meta)).toMatchObject({ status: 'queued', output: [], usage: null });
    expect(toResponse(record(body, { status: 'running', result: null }), meta).status).toBe('in_progress');
    expect(toResponse(record(body, { result: result({ finishReason: 'length' }) }), meta)).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    const failed = record(body, { status: 'failed', result: null, error: { message: 'boom', type: 'api_error', param: null, code: 'bad_cli_output' } });
    expect(toResponse(failed, meta)).toMatchObject({ status: 'failed', error: { code: 'bad_cli_output', message: 'boom' } });
    expect(toResponse(record(body, { status: 'cancelled', result: null }), meta)).toMatchObject({ status: 'cancelled', error: null });
    expect(responseMeta({ ...failed, meta: null })).toBeUndefined();
  });

  it('lists input items with ids, newest first unless asc, after a cursor', () => {
    const body = { model: 'sonnet', input: [{ role: 'user', content: 'a' }, { type: 'function_call', id: 'fc_own', call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'r' }] };
    const meta = responseMeta(record(body))!;
    const q = (query: Record<string, string>) => inputItemsQuerySchema.parse(query);
    const all = inputItemsPage(meta, `resp_${HEX}`, q({ order: 'asc' }));
    expect(all.data.map((i) => i.id)).toEqual([`msg_${HEX}_0`, 'fc_own', `fco_${HEX}_2`]);
    expect(all.data[0]).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'a' }], status: 'completed' });
    const page = inputItemsPage(meta, `resp_${HEX}`, q({ limit: '1' }));
    expect(page).toMatchObject({ object: 'list', first_id: `fco_${HEX}_2`, last_id: `fco_${HEX}_2`, has_more: true });
    expect(inputItemsPage(meta, `resp_${HEX}`, q({ after: 'fc_own' })).data.map((i) => i.id)).toEqual([`msg_${HEX}_0`]);
    expect(() => inputItemsPage(meta, `resp_${HEX}`, q({ after: 'nope' }))).toThrow(InvalidRequestError);
  });
});

describe('run events → typed stream events', () => {
  const body = { model: 'sonnet', input: 'x' };
  const meta = responseMeta(record(body))!;

  it('streams text and calls as they come, numbered from 0, and ends with the recorded response', () => {
    const s = new ResponseEventStream('c'.repeat(32));
    const running = toResponse(record(body, { status: 'running', result: null }), meta);
    const events = [
      ...s.start(running),
      ...s.push({ type: 'text', text: 'Par' }),
      ...s.push({ type: 'text', text: 'is.' }),
      ...s.push({ type: 'tool_call_start', index: 0, id: 'toolu_1', name: 'f' }),
      ...s.push({ type: 'tool_call_delta', index: 0, arguments: '{"a":' }),
      ...s.push({ type: 'tool_call_delta', index: 0, arguments: '1}' }),
      ...s.push({ type: 'tool_use', id: 'x', name: 'Read', input: {} }),
    ];
    const done = record(body, { status: 'requires_action', result: result({ finishReason: 'tool_calls', toolCalls: [{ id: 'toolu_1', name: 'f', arguments: '{"a":1}' }] }) });
    events.push(...s.finish(toResponse(done, meta)));
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[0]).toMatchObject({ response: { status: 'in_progress', output: [] } });
    expect(events[6]).toMatchObject({ output_index: 1, item: { type: 'function_call', id: 'fc_1', call_id: 'toolu_1', arguments: '' } });
    expect(events[12]).toMatchObject({ output_index: 1, item_id: 'fc_1', name: 'f', arguments: '{"a":1}' });
    const final = events.at(-1)!.response as any;
    expect(final.status).toBe('completed');
    expect(final.output.map((o: any) => o.type)).toEqual(['message', 'function_call']);
  });

  it('replays a finished response: its items whole, the text in one delta', () => {
    const s = new ResponseEventStream('unused');
    const done = toResponse(record(body), meta);
    const events = [...s.start(done), ...s.finish(done)];
    expect(events[0]).toMatchObject({ type: 'response.created', response: { status: 'in_progress', output: [], usage: null } });
    expect(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['Paris.']);
    expect(events.at(-1)).toMatchObject({ type: 'response.completed', response: { output: done.output, usage: done.usage } });
    const incomplete = toResponse(record(body, { result: result({ finishReason: 'length' }) }), meta);
    const cut = new ResponseEventStream('unused');
    expect([...cut.start(incomplete), ...cut.finish(incomplete)].at(-1)!.type).toBe('response.incomplete');
  });

  it('ends a failed or cancelled response with error and response.failed', () => {
    const failed = toResponse(record(body, { status: 'failed', result: null, error: { message: 'boom', type: 'api_error', param: null, code: 'cli_error' } }), meta);
    const s = new ResponseEventStream('c'.repeat(32));
    s.start(failed);
    expect(s.finish(failed).map((e) => [e.type, e.code ?? (e.response as any)?.status])).toEqual([
      ['error', 'cli_error'],
      ['response.failed', 'failed'],
    ]);
    const cancelled = toResponse(record(body, { status: 'cancelled', result: null }), meta);
    expect(new ResponseEventStream('x').finish(cancelled).map((e) => e.type)).toEqual(['error', 'response.failed']);
  });
});
