// What the openai-compatible provider makes of a neutral ChatRequest (the chat completions body it
// sends), and of the upstream's streamed chunks (the provider events and the result), its errors included.
import { describe, expect, it } from 'vitest';
import { OpenAICompatibleProvider } from '../../providers/openai-compatible/index.js';
import { prepareChatCompletion } from '../../providers/openai-compatible/request.js';
import { CompletionStream } from '../../providers/openai-compatible/stream.js';
import { type ChatRequest, ProviderError, type ProviderEvent } from '../../providers/types.js';
import { chatRequest, fn, text, user } from './chat-request.js';
import { refusal, thrown } from './thrown.js';
import { weatherAnswer } from './weather-answer.js';

const chat = (over: Partial<ChatRequest> = {}) => chatRequest('llama-3.1-8b', over);

describe('provider', () => {
  const provider = () => new OpenAICompatibleProvider({ name: 'local', baseUrl: 'http://127.0.0.1:9/v1', models: ['llama-3.1-8b', 'qwen'] });

  it('serves <name>/<model> as <model>, listed or not', async () => {
    const p = provider();
    expect(p.resolveModel('local/llama-3.1-8b')).toBe('llama-3.1-8b');
    expect(p.resolveModel('local/org/model:q4')).toBe('org/model:q4');
    expect(p.resolveModel('local/')).toBeUndefined();
    expect(p.resolveModel('other/llama')).toBeUndefined();
    expect(p.resolveModel('llama')).toBeUndefined();
    expect(p.models()).toEqual([
      { id: 'local/llama-3.1-8b', ownedBy: 'local' },
      { id: 'local/qwen', ownedBy: 'local' },
    ]);
    expect(await p.hasSession()).toBe(false);
    expect(await p.check()).toEqual({ ok: true });
    expect(Object.keys(p.capabilities)).toEqual(['lifecycle']);
    await p.close();
  });

  it('refuses settings no request could use', () => {
    expect(() => new OpenAICompatibleProvider({ name: 'a/b', baseUrl: 'http://x/v1' })).toThrow(/name/);
    expect(() => new OpenAICompatibleProvider({ name: 'a', baseUrl: 'ftp://x/v1' })).toThrow(/http/);
    expect(() => new OpenAICompatibleProvider({ name: 'a', baseUrl: 'not a url' })).toThrow(/URL/);
  });
});

describe('request mapping', () => {
  it('sends every message in order, a lone text as a string, always streamed with usage', () => {
    const body = prepareChatCompletion(
      chat({ messages: [{ role: 'system', content: text('be brief') }, user('one'), { role: 'assistant', content: text('A'), toolCalls: [] }, user('two')] }),
    );
    expect(body).toEqual({
      model: 'llama-3.1-8b',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'A' },
        { role: 'user', content: 'two' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('keeps text and image parts as OpenAI parts', () => {
    const body = prepareChatCompletion(
      chat({ messages: [{ role: 'user', content: [...text('what is this?'), { type: 'image', url: 'data:image/png;base64,AAAA' }] }] }),
    );
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ]);
  });

  it('maps calls and their results', () => {
    const body = prepareChatCompletion(
      chat({
        messages: [
          user('weather?'),
          { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Bern"}' }] },
          { role: 'tool', toolCallId: 'c1', content: text('rain') },
        ],
      }),
    );
    expect(body.messages).toEqual([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bern"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'rain' },
    ]);
  });

  it('maps tools, tool choice and parallel calls; none of them without tools', () => {
    const tools = [{ ...fn('a'), description: 'does a' }, fn('b')];
    const auto = prepareChatCompletion(chat({ tools }));
    expect(auto.tools).toEqual([
      { type: 'function', function: { name: 'a', description: 'does a', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'b', parameters: { type: 'object' } } },
    ]);
    expect(auto).toMatchObject({ tool_choice: 'auto', parallel_tool_calls: true });
    expect(prepareChatCompletion(chat({ tools, toolChoice: 'required', parallelToolCalls: false }))).toMatchObject({
      tool_choice: 'required',
      parallel_tool_calls: false,
    });
    expect(prepareChatCompletion(chat({ tools, toolChoice: 'none' })).tool_choice).toBe('none');
    expect(prepareChatCompletion(chat({ tools, toolChoice: { name: 'b' } })).tool_choice).toEqual({ type: 'function', function: { name: 'b' } });
    const bare = prepareChatCompletion(chat({ toolChoice: 'none' }));
    expect(Object.keys(bare)).not.toContain('tools');
    expect(Object.keys(bare)).not.toContain('tool_choice');
    expect(Object.keys(bare)).not.toContain('parallel_tool_calls');
    refusal(() => prepareChatCompletion(chat({ tools, toolChoice: { name: 'c' } })), { param: 'tool_choice', code: 'unknown_function' });
    refusal(() => prepareChatCompletion(chat({ toolChoice: 'required' })), { param: 'tool_choice' });
  });

  it('asks for structured output with a json_schema response format, and passes sampling on', () => {
    const schema = { type: 'object', properties: { n: { type: 'number' } } };
    const body = prepareChatCompletion(
      chat({ responseFormat: { type: 'json_schema', schema }, sampling: { temperature: 0.3, maxTokens: 77, stop: ['X'], reasoningEffort: 'low' } }),
    );
    expect(body).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: 'response', schema } },
      temperature: 0.3,
      max_tokens: 77,
      stop: ['X'],
      reasoning_effort: 'low',
    });
  });

  it('merges passthrough fields under its own: they never replace model, messages, stream or tools', () => {
    const body = prepareChatCompletion(
      chat({
        tools: [fn('a')],
        passthrough: {
          top_p: 0.9,
          seed: 7,
          chat_template_kwargs: { enable_thinking: false },
          model: 'evil',
          messages: [],
          stream: false,
          stream_options: null,
          tools: [],
          tool_choice: 'none',
          n: 3,
          reasoning_effort: 'high',
        },
        sampling: { reasoningEffort: 'low' },
      }),
    );
    expect(body).toMatchObject({
      top_p: 0.9,
      seed: 7,
      chat_template_kwargs: { enable_thinking: false },
      model: 'llama-3.1-8b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'a' } }],
      tool_choice: 'auto',
      reasoning_effort: 'low',
    });
    expect(body.n).toBeUndefined();
    expect(prepareChatCompletion(chat({ passthrough: { tools: [{ type: 'function' }], reasoning_effort: 'high' } }))).toMatchObject({ reasoning_effort: 'high' });
    expect(prepareChatCompletion(chat({ passthrough: { tools: [{ type: 'function' }] } })).tools).toBeUndefined();
  });

  it('ignores the session (the core sent the whole history), and refuses the CLI tool permissions', () => {
    expect(prepareChatCompletion(chat({ session: { kind: 'continue', sessionId: 's' } })).messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(() => prepareChatCompletion(chat({ session: { kind: 'fork', sessionId: 's' } }))).not.toThrow();
    refusal(() => prepareChatCompletion(chat({ permissions: { allow: ['Read'], deny: [] } })), { param: 'allowed_tools' });
    refusal(() => prepareChatCompletion(chat({ permissions: { allow: [], deny: ['Bash'] } })), { param: 'disallowed_tools' });
  });
});

const API = "OpenAI-compatible API 'local'";
/** A chunk as servers stream it: the first choice with a delta and a finish reason. */
const chunk = (delta: Record<string, unknown>, finish_reason: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'llama',
  system_fingerprint: 'fp_1',
  choices: [{ index: 0, delta, finish_reason }],
});
const usageChunk = (usage: Record<string, unknown>) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [], usage });

function run(...data: (Record<string, unknown> | string)[]) {
  const stream = new CompletionStream(API);
  const events: ProviderEvent[] = [];
  for (const d of data) events.push(...stream.push({ event: '', data: typeof d === 'string' ? d : JSON.stringify(d) }));
  return { events, result: () => stream.result('sess-1') };
}

describe('stream mapping', () => {
  it('yields text deltas and a result with the usage in neutral terms and the completion as raw', () => {
    const { events, result } = run(
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hel' }),
      chunk({ content: 'lo' }),
      chunk({}, 'stop'),
      usageChunk({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16, prompt_tokens_details: { cached_tokens: 5 } }),
      '[DONE]',
    );
    expect(events.map((e) => e.type === 'text' && e.text)).toEqual(['Hel', 'lo']);
    expect(result()).toEqual({
      text: 'Hello',
      sessionId: 'sess-1',
      finishReason: 'stop',
      // prompt_tokens = input + cache reads, as src/openai/response.ts adds them back
      usage: { inputTokens: 7, outputTokens: 4, cacheReadTokens: 5, cacheCreationTokens: 0 },
      raw: {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'llama',
        system_fingerprint: 'fp_1',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16, prompt_tokens_details: { cached_tokens: 5 } },
      },
    });
  });

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['content_filter', 'stop'],
    ['tool_calls', 'tool_calls'],
    ['function_call', 'tool_calls'],
    ['eos', 'stop'],
  ])('maps finish_reason %s to %s', (reason, finish) => {
    expect(run(chunk({ content: 'x' }), chunk({}, reason), '[DONE]').result().finishReason).toBe(finish);
  });

  it('yields tool calls as they are generated, indexed among the calls, and assembles them', () => {
    const { events, result } = run(
      chunk({ content: 'Let me see.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'now' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    const answer = weatherAnswer(['call_1', 'call_2']);
    expect(events).toEqual(answer.events);
    expect(result()).toMatchObject({
      text: 'Let me see.',
      finishReason: 'tool_calls',
      toolCalls: answer.toolCalls,
      raw: { choices: [{ message: { tool_calls: [{ id: 'call_1', type: 'function' }, { id: 'call_2' }] }, finish_reason: 'tool_calls' }] },
    });
  });

  it('takes calls finished as stop for calls, and names calls a server gives no id', () => {
    const { result } = run(chunk({ tool_calls: [{ index: 3, function: { name: 'f', arguments: '{"a":1}' } }] }), chunk({}, 'stop'), '[DONE]');
    expect(result()).toMatchObject({ finishReason: 'tool_calls', toolCalls: [{ id: expect.stringMatching(/^call_/), name: 'f', arguments: '{"a":1}' }] });
    expect(result().usage).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 });
  });

  it('throws an error chunk as the ProviderError of its type', () => {
    const err = thrown(() => run(chunk({ content: 'x' }), { error: { message: 'Rate limit reached', type: 'rate_limit_error' } }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'rate_limited', code: 'upstream_rate_limited', message: expect.stringContaining('Rate limit reached') });
    expect(thrown(() => run({ error: { message: 'boom', type: 'server_error' } }))).toMatchObject({ kind: 'upstream', code: 'upstream_server_error' });
    expect(thrown(() => run({ error: 'plain' }))).toMatchObject({ kind: 'upstream', code: 'upstream_error', message: expect.stringContaining('plain') });
  });

  it('fails a stream that ends without a finish reason, or is not JSON; ignores what follows [DONE]', () => {
    expect(thrown(run(chunk({ content: 'x' }), '[DONE]').result)).toMatchObject({ kind: 'upstream', code: 'upstream_stream_incomplete' });
    expect(thrown(run(chunk({ content: 'x' })).result)).toMatchObject({ kind: 'upstream', code: 'upstream_stream_incomplete' });
    expect(thrown(() => run('{"choices":'))).toMatchObject({ kind: 'bad_output', code: 'bad_upstream_output' });
    expect(run(chunk({}, 'stop'), '[DONE]', 'garbage').result().finishReason).toBe('stop');
  });
});
