// What the Claude CLI provider makes of a neutral ChatRequest (providers/claude-cli/): its tool
// policy within ALLOWED_TOOLS, the prompt and history it renders, the request it prepares and runs.
import { describe, expect, it } from 'vitest';
import { oneShotArgs, profileKey, profileOf } from '../../providers/claude-cli/args.js';
import { renderConversation } from '../../providers/claude-cli/render.js';
import { placeRequest, prepareRequest } from '../../providers/claude-cli/request.js';
import { StructuredOutputSchemas } from '../../providers/claude-cli/structured-output.js';
import { toolSetup } from '../../providers/claude-cli/tool-policy.js';
import { type ChatRequest, type Message, ProviderError } from '../../providers/types.js';
import { chatRequest, fn, text, user } from './chat-request.js';
import { thrown } from './thrown.js';

const SESSION = '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f';
const CAP = ['Bash', 'Read'];

const assistant = (t: string, toolCalls: { id: string; name: string; arguments: string }[] = []): Message => ({
  role: 'assistant',
  content: t ? text(t) : [],
  toolCalls,
});
const tool = (toolCallId: string, t: string): Message => ({ role: 'tool', toolCallId, content: text(t) });

const chat = (over: Partial<ChatRequest> = {}) => chatRequest('claude-sonnet', over);

/** An `invalid_request` ProviderError (a 400 on the wire) with these fields. */
const refusal = (f: () => unknown, fields: { param?: string; code: string }) => {
  const err = thrown(f);
  expect(err).toBeInstanceOf(ProviderError);
  expect(err).toMatchObject({ kind: 'invalid_request', ...fields });
  return err as ProviderError;
};

describe('rendering', () => {
  it('sends the new message as it is, the system messages as the system prompt', () => {
    const messages: Message[] = [{ role: 'system', content: text('be brief') }, user('hi'), { role: 'system', content: text('and kind') }];
    expect(renderConversation(messages, false)).toEqual({ systemPrompt: 'be brief\n\nand kind', prompt: 'hi', toolResults: [], images: [] });
  });

  it('continuing a session, sends only the messages after the last assistant message: the CLI has the rest', () => {
    expect(renderConversation([user('one'), assistant('A'), user('two'), user('three')], true).prompt).toBe('two\n\nthree');
  });

  it('renders the history of a new session that already holds assistant turns, calls and results included', () => {
    const { prompt } = renderConversation(
      [
        user('weather?'),
        assistant('', [{ id: 'call_old', name: 'get_weather', arguments: '{"city":"Bern"}' }]),
        tool('call_old', 'rain'),
        assistant('It rains.'),
        user('and tomorrow?'),
      ],
      false,
    );
    expect(prompt).toContain('<conversation_history>\n<turn role="user">\nweather?\n</turn>');
    expect(prompt).toContain('<tool_call id="call_old" name="get_weather">{"city":"Bern"}</tool_call>');
    expect(prompt).toContain('<turn role="tool" tool_call_id="call_old">\nrain\n</turn>');
    expect(prompt.endsWith('\n\nand tomorrow?')).toBe(true);
  });

  const answering = (id: string) => [user('weather?'), assistant('', [{ id, name: 'get_weather', arguments: '{}' }]), tool(id, 'sunny')];

  it('takes the tool results the messages end with, and a prompt with them for when no run waits any more', () => {
    expect(renderConversation(answering('call_1'), true)).toEqual({
      systemPrompt: undefined,
      // Continuing: just the results, the rest is in the session.
      prompt: 'The results of your tool calls:\n<turn role="tool" tool_call_id="call_1">\nsunny\n</turn>\n\nContinue from there.',
      toolResults: [{ toolCallId: 'call_1', content: 'sunny' }],
      images: [],
    });
    const fresh = renderConversation(answering('call_1'), false);
    expect(fresh.prompt).toContain('<conversation_history>');
    expect(fresh.prompt).toContain('The results of your tool calls follow; continue from there.');
  });

  it('refuses what it cannot send, naming the message', () => {
    refusal(() => renderConversation([user('x'), assistant('y')], false), { param: 'messages', code: 'missing_user_message' });
    refusal(() => renderConversation([user('x'), tool('a', 'r'), user('y')], false), { param: 'messages[1]', code: 'invalid_tool_results' });
    refusal(() => renderConversation([user(' ')], false), { param: 'messages[0].content', code: 'empty_message' });
    const inAssistant: Message = { role: 'assistant', content: [{ type: 'image', url: 'https://example.com/a.png' }], toolCalls: [] };
    refusal(() => renderConversation([user('x'), inAssistant, user('y')], false), { param: 'messages[1].content[0].type', code: 'unsupported_content_part' });
    const bmp: Message = { role: 'user', content: [{ type: 'image', url: 'data:image/bmp;base64,AAAA' }] };
    refusal(() => renderConversation([bmp], false), { param: 'messages[0].content[0].image_url.url', code: 'unsupported_image' });
    const ftp: Message = { role: 'user', content: [{ type: 'image', url: 'ftp://example.com/a.png' }] };
    refusal(() => renderConversation([ftp], false), { param: 'messages[0].content[0].image_url.url', code: 'unsupported_image' });
    const huge: Message = { role: 'user', content: [{ type: 'image', url: `data:image/png;base64,${'A'.repeat(7 * 1024 * 1024)}` }] };
    refusal(() => renderConversation([huge], false), { param: 'messages[0].content[0].image_url.url', code: 'image_too_large' });
  });

  it("sends a user message's images as image blocks beside the prompt, each marked where it stood", () => {
    const image: Message = {
      role: 'user',
      content: [...text('what is this?'), { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' }, { type: 'image', url: 'https://example.com/a.png' }],
    };
    const c = renderConversation([user('earlier'), assistant('ok'), image], false);
    expect(c.prompt).toContain('what is this?\n[image 1]\n[image 2]');
    expect(c.images).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
    ]);
  });
});

describe('tool policy', () => {
  it('enables Claude Code tools within the cap, and exposes the other functions as the client’s', () => {
    const setup = toolSetup(chat({ tools: [fn('Bash'), fn('get_weather')], permissions: { allow: ['Read(/tmp/*)'], deny: ['Bash(rm *)'] } }), CAP);
    expect(setup).toEqual({
      toolPolicy: { tools: ['Bash', 'Read'], allowed: ['Bash', 'Read(/tmp/*)'], disallowed: ['Bash(rm *)'] },
      clientTools: [fn('get_weather')],
      instruction: undefined,
    });
    // A Claude Code tool asked for twice is one tool.
    expect(toolSetup(chat({ tools: [fn('Bash'), fn('Bash')] }), CAP).toolPolicy.tools).toEqual(['Bash']);
  });

  it('refuses a tool outside the cap naming it, as a tool or as a rule', () => {
    const err = refusal(() => toolSetup(chat({ tools: [fn('WebFetch')] }), CAP), { param: 'tools[0].function.name', code: 'tool_not_allowed' });
    expect(err.message).toBe("tool 'WebFetch' is not allowed on this gateway (allowed: Bash, Read; see ALLOWED_TOOLS)");
    refusal(() => toolSetup(chat({ permissions: { allow: ['Read', 'WebFetch(domain:evil.com)'], deny: [] } }), CAP), {
      param: 'allowed_tools[1]',
      code: 'tool_not_allowed',
    });
    expect((thrown(() => toolSetup(chat({ tools: [fn('Bash')] }), [])) as Error).message).toContain('(allowed: none;');
  });

  it('refuses client functions the model cannot be given', () => {
    refusal(() => toolSetup(chat({ tools: [fn('get weather')] }), CAP), { param: 'tools[0].function.name', code: 'invalid_function_name' });
    refusal(() => toolSetup(chat({ tools: [fn('f'), fn('f')] }), CAP), { param: 'tools[1].function.name', code: 'duplicate_function' });
  });

  const fns = [fn('a_fn'), fn('b_fn')];

  it('tool choice none: no tools at all, though they are still checked', () => {
    const setup = toolSetup(chat({ tools: [fn('Bash'), ...fns], toolChoice: 'none' }), CAP);
    expect(setup).toEqual({ toolPolicy: { tools: [], allowed: [], disallowed: [] }, clientTools: [] });
    refusal(() => toolSetup(chat({ tools: [fn('bad name')], toolChoice: 'none' }), CAP), { code: 'invalid_function_name' });
  });

  it('a named tool choice exposes only that function and tells the model to call it; it must be a client function', () => {
    const setup = toolSetup(chat({ tools: fns, toolChoice: { name: 'b_fn' } }), CAP);
    expect(setup.clientTools.map((c) => c.name)).toEqual(['b_fn']);
    expect(setup.instruction).toBe('You must call the function b_fn now.');
    refusal(() => toolSetup(chat({ tools: fns, toolChoice: { name: 'c_fn' } }), CAP), { param: 'tool_choice', code: 'unknown_function' });
    refusal(() => toolSetup(chat({ tools: [fn('Bash')], toolChoice: { name: 'Bash' } }), CAP), { code: 'unknown_function' });
  });

  it('tool choice required asks for a call, when there is a function to call', () => {
    expect(toolSetup(chat({ tools: fns, toolChoice: 'required' }), CAP).instruction).toBe(
      'You must call at least one of the available functions before you answer.',
    );
    expect(toolSetup(chat({ tools: [fn('Bash')], toolChoice: 'required' }), CAP).instruction).toBeUndefined();
  });
});

describe('the prepared request', () => {
  const schemas = new StructuredOutputSchemas();
  const prepare = (over: Partial<ChatRequest>) => prepareRequest(chat(over), CAP, schemas);

  it('holds the spawn profile, the prompt and the tool results; sampling hints are not the CLI’s', () => {
    expect(prepare({ maxTurns: 3, stream: true, sampling: { temperature: 0.2, maxTokens: 5 } })).toEqual({
      model: 'claude-sonnet',
      systemPrompt: undefined,
      toolPolicy: { tools: [], allowed: [], disallowed: [] },
      maxTurns: 3,
      clientTools: [],
      parallelToolCalls: true,
      jsonSchema: undefined,
      maxBudgetUsd: undefined,
      effort: undefined,
      prompt: 'hi',
      images: [],
      toolResults: [],
      stream: true,
    });
  });

  it('puts what the tool choice asks after the client’s own system prompt', () => {
    const messages: Message[] = [{ role: 'system', content: text('be brief') }, user('hi')];
    expect(prepare({ messages, tools: [fn('f')], toolChoice: 'required' }).systemPrompt).toBe(
      'be brief\n\nYou must call at least one of the available functions before you answer.',
    );
  });

  it('checks and adapts the structured-output schema, naming it when the CLI would refuse it', () => {
    const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' };
    expect(prepare({ responseFormat: { type: 'json_schema', schema } }).jsonSchema).toEqual({ type: 'object' });
    refusal(() => prepare({ responseFormat: { type: 'json_schema', schema: { type: 'object', foo: 1 } } }), {
      param: 'response_format.json_schema.schema',
      code: 'invalid_json_schema',
    });
  });

  it('renders for the session intent: a continued session gets the new messages only; a fork is refused', () => {
    const messages = [user('one'), assistant('A'), user('two')];
    expect(prepare({ messages, session: { kind: 'continue', sessionId: SESSION } }).prompt).toBe('two');
    expect(prepare({ messages }).prompt).toContain('<conversation_history>');
    refusal(() => prepare({ session: { kind: 'fork', sessionId: SESSION } }), { code: 'unsupported_session_fork' });
  });

  it('checks tools before messages, messages before the schema', () => {
    const bad = { tools: [fn('WebFetch')], messages: [user(' ')], responseFormat: { type: 'json_schema' as const, schema: { foo: 1 } } };
    refusal(() => prepare(bad), { code: 'tool_not_allowed' });
    refusal(() => prepare({ ...bad, tools: [] }), { code: 'empty_message' });
  });

  it('in its session, takes its tool results only when they answer the run waiting there', () => {
    const prepared = prepare({ messages: [user('w?'), assistant('', [{ id: 'call_1', name: 'f', arguments: '{}' }]), tool('call_1', 'sunny')] });
    const session = { sessionId: SESSION, resume: true, cwd: '/work', answersWaitingRun: true };
    expect(placeRequest(prepared, session)).toMatchObject({ sessionId: SESSION, resume: true, cwd: '/work', toolResults: [{ toolCallId: 'call_1', content: 'sunny' }] });
    expect(placeRequest(prepared, { ...session, answersWaitingRun: false }).toolResults).toBeUndefined();
  });
});

describe('reasoning effort', () => {
  it('goes on argv as --effort (minimal as low, the CLI has none lower)', () => {
    const schemas = new StructuredOutputSchemas();
    const args = (effort: 'minimal' | 'high') => {
      const p = prepareRequest(chat({ sampling: { reasoningEffort: effort } }), CAP, schemas);
      return oneShotArgs({ ...placeRequest(p, { sessionId: SESSION, resume: false, cwd: '/w', answersWaitingRun: false }), cwd: '/w' }, {});
    };
    expect(args('high')).toContain('--effort=high');
    expect(args('minimal')).toContain('--effort=low');
  });
});

describe("a key's budget", () => {
  it('goes on argv as --max-budget-usd, and makes a profile of its own (a process spawned with another budget cannot serve it)', () => {
    const schemas = new StructuredOutputSchemas();
    const budgeted = prepareRequest(chat({ budgetUsd: 0.25 }), CAP, schemas);
    const plain = prepareRequest(chat(), CAP, schemas);
    const place = (p: typeof plain) => ({ ...placeRequest(p, { sessionId: SESSION, resume: false, cwd: '/w', answersWaitingRun: false }), cwd: '/w' });
    expect(oneShotArgs(place(budgeted), {})).toContain('--max-budget-usd=0.25');
    expect(oneShotArgs(place(plain), {}).some((a) => a.startsWith('--max-budget-usd'))).toBe(false);
    expect(profileKey(profileOf({ ...budgeted, cwd: '/w' }))).not.toBe(profileKey(profileOf({ ...plain, cwd: '/w' })));
  });
});
