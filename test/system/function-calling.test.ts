import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { fetchJson, openEvents, waitFor } from '../support/process-helpers.js';

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type Call = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;

const fn = (name: string, parameters: Record<string, unknown>, description = `the ${name} function`) => ({
  type: 'function' as const,
  function: { name, description, parameters },
});
const weather = fn('get_weather', { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] });
const clock = fn('get_time', { type: 'object', properties: { zone: { type: 'string' } } });

let mock: MockUpstream;
let gw: TestGateway;
beforeAll(async () => {
  mock = await startMockAnthropic();
  gw = await startGateway({ mock });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

const calls = (c: OpenAI.Chat.Completions.ChatCompletion) => (c.choices[0]!.message.tool_calls ?? []) as Call[];
const record = async (g: TestGateway, id: string) => (await fetchJson(`${g.url}/v1/processes/${id}`)).body;
const toolMessages = (cs: Call[], answer: (c: Call) => string): Msg[] => cs.map((c) => ({ role: 'tool', tool_call_id: c.id, content: answer(c) }));

describe('client function calling (real CLI)', () => {
  it('returns tool_calls, waits, and continues the same run with the results', async () => {
    mock.on('weather in Paris?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' }, text: 'Let me check.' });
    mock.on('sunny 22C', { text: 'It is sunny and 22C in Paris.' });
    const messages: Msg[] = [{ role: 'user', content: 'weather in Paris?' }];
    const events = await openEvents(gw.url, { types: 'PROCESS_REQUIRES_ACTION' });
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather] });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Let me check.');
    expect(calls(first)).toHaveLength(1);
    expect(calls(first)[0]!.function.name).toBe('get_weather');
    expect(JSON.parse(calls(first)[0]!.function.arguments)).toEqual({ location: 'Paris' });

    // the process shows what it waits for, and so does an event
    const waiting = await record(gw, (first as any).process_id);
    expect(waiting.status).toBe('requires_action');
    expect(waiting.required_action).toMatchObject({ type: 'submit_tool_outputs', tool_call_ids: [calls(first)[0]!.id] });
    const ev = await events.next((e) => e.process_id === (first as any).process_id);
    expect(ev.required_action.tool_call_ids).toEqual([calls(first)[0]!.id]);
    await events.close();

    const before = mock.messageRequests().length;
    const second = await gw.openai.chat.completions.create({
      model: 'sonnet',
      tools: [weather],
      messages: [...messages, choice.message, ...toolMessages(calls(first), () => 'sunny 22C')],
    });
    expect(second.choices[0]!.message.content).toBe('It is sunny and 22C in Paris.');
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect((second as any).session_id).toBe((first as any).session_id);
    // the same run went on: exactly one more upstream request, carrying the tool result
    expect(mock.messageRequests().length).toBe(before + 1);
    expect(JSON.stringify(mock.messageRequests().at(-1)!.body.messages.at(-1))).toContain('sunny 22C');
    expect((await record(gw, (first as any).process_id)).status).toBe('completed');
  });

  it('hands out parallel calls together, and one at a time with parallel_tool_calls: false', async () => {
    const both = { kind: 'tool_use' as const, name: 'mcp__client__get_weather', input: { location: 'Oslo' }, more: [{ name: 'mcp__client__get_time', input: { zone: 'CET' } }] };
    mock.on('two things please', both);
    mock.on('one by one please', both);
    mock.on(/rainy/, (req) => ({ text: req.lastUserText.includes('noon') ? 'Rainy at noon.' : 'waiting' }));

    const messages: Msg[] = [{ role: 'user', content: 'two things please' }];
    const a = await gw.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather, clock] });
    expect(calls(a).map((c) => c.function.name)).toEqual(['get_weather', 'get_time']);
    const done = await gw.openai.chat.completions.create({
      model: 'sonnet',
      tools: [weather, clock],
      messages: [...messages, a.choices[0]!.message, ...toolMessages(calls(a), (c) => (c.function.name === 'get_weather' ? 'rainy' : 'noon'))],
    });
    expect(done.choices[0]!.message.content).toBe('Rainy at noon.');

    const serial: Msg[] = [{ role: 'user', content: 'one by one please' }];
    const s1 = await gw.openai.chat.completions.create({ model: 'sonnet', messages: serial, tools: [weather, clock], parallel_tool_calls: false });
    expect(calls(s1).map((c) => c.function.name)).toEqual(['get_weather']);
    serial.push(s1.choices[0]!.message, ...toolMessages(calls(s1), () => 'rainy'));
    const s2 = await gw.openai.chat.completions.create({ model: 'sonnet', messages: serial, tools: [weather, clock], parallel_tool_calls: false });
    expect(calls(s2).map((c) => c.function.name)).toEqual(['get_time']);
    serial.push(s2.choices[0]!.message, ...toolMessages(calls(s2), () => 'noon'));
    const s3 = await gw.openai.chat.completions.create({ model: 'sonnet', messages: serial, tools: [weather, clock], parallel_tool_calls: false });
    expect(s3.choices[0]!.message.content).toBe('Rainy at noon.');
  });

  it("drives a chain of calls through the SDK's own tool runner, with a nested schema passed as it is", async () => {
    const nested = {
      type: 'object',
      properties: {
        trip: {
          type: 'object',
          properties: { from: { type: 'string' }, legs: { type: 'array', items: { $ref: '#/$defs/leg' } } },
          required: ['from'],
        },
      },
      $defs: { leg: { type: 'object', properties: { to: { type: 'string' }, days: { type: 'integer', minimum: 1 } } } },
      required: ['trip'],
      additionalProperties: false,
    };
    mock.on('plan my trip', { kind: 'tool_use', name: 'mcp__client__plan_trip', input: { trip: { from: 'Rome', legs: [{ to: 'Pisa', days: 2 }] } } });
    mock.on('PLAN-OK', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Pisa' } });
    mock.on('PISA-SUN', { text: 'Trip planned; Pisa will be sunny.' });
    const seen: unknown[] = [];
    const runner = gw.openai.chat.completions.runTools({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'plan my trip' }],
      tools: [
        { type: 'function', function: { name: 'plan_trip', description: 'Plan a trip', parameters: nested, function: (args: object) => (seen.push(args), 'PLAN-OK'), parse: (s: string): object => JSON.parse(s) } },
        { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather.function.parameters, function: (args: object) => (seen.push(args), 'PISA-SUN'), parse: (s: string): object => JSON.parse(s) } },
      ],
    });
    expect(await runner.finalContent()).toBe('Trip planned; Pisa will be sunny.');
    expect(seen).toEqual([{ trip: { from: 'Rome', legs: [{ to: 'Pisa', days: 2 }] } }, { location: 'Pisa' }]);
    const upstreamTool = mock.messageRequests().find((r) => r.lastUserText.includes('plan my trip'))!.body.tools.find((t: any) => t.name === 'mcp__client__plan_trip');
    expect(upstreamTool.input_schema).toEqual(nested);
    expect(upstreamTool.description).toBe('Plan a trip');
  });

  it('streams tool-call deltas that the SDK assembles', async () => {
    mock.on('stream a call', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Lisbon, Portugal' }, text: 'Checking.' });
    const stream = gw.openai.chat.completions.stream({ model: 'sonnet', messages: [{ role: 'user', content: 'stream a call' }], tools: [weather] });
    let pieces = 0;
    stream.on('tool_calls.function.arguments.delta', () => pieces++);
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.choices[0]!.message.content).toBe('Checking.');
    const [call] = calls(final);
    expect(call!.function.name).toBe('get_weather');
    expect(JSON.parse(call!.function.arguments)).toEqual({ location: 'Lisbon, Portugal' });
    expect(pieces).toBeGreaterThanOrEqual(2);
  });

  it('continues by tool_call_id with session_id too, and answers a fresh run for an unknown tool_call_id', async () => {
    mock.on('session weather', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Rome' } });
    mock.on('warm 30C', { text: 'Warm in Rome.' });
    const messages: Msg[] = [{ role: 'user', content: 'session weather' }];
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather] });
    const sid = (first as any).session_id;
    const second = await gw.openai.chat.completions.create({
      model: 'sonnet',
      tools: [weather],
      messages: [...messages, first.choices[0]!.message, ...toolMessages(calls(first), () => 'warm 30C')],
      // @ts-expect-error gateway extension
      session_id: sid,
    });
    expect(second.choices[0]!.message.content).toBe('Warm in Rome.');
    expect((second as any).session_id).toBe(sid);

    // a tool_call_id nobody waits for: a fresh run gets the whole conversation, calls and results included
    mock.on('stale result XYZ', { text: 'Using the stale result.' });
    const stale = await gw.openai.chat.completions.create({
      model: 'sonnet',
      tools: [weather],
      messages: [
        { role: 'user', content: 'old question' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_unknown_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Bern"}' } }] },
        { role: 'tool', tool_call_id: 'call_unknown_1', content: 'stale result XYZ' },
      ],
    });
    expect(stale.choices[0]!.message.content).toBe('Using the stale result.');
    const prompt = mock.messageRequests().at(-1)!.lastUserText;
    expect(prompt).toContain('<tool_call id="call_unknown_1" name="get_weather">{"location":"Bern"}</tool_call>');
    expect(prompt).toContain('<turn role="tool" tool_call_id="call_unknown_1">\nstale result XYZ\n</turn>');
    expect((stale as any).session_id).not.toBe(sid);
  });

  it('cancels a waiting run with DELETE', async () => {
    mock.on('cancel me', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Nice' } });
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'cancel me' }], tools: [weather] });
    const del = await fetchJson(`${gw.url}/v1/processes/${(first as any).process_id}`, { method: 'DELETE' });
    expect(del.body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect(del.body.result.choices[0].finish_reason).toBe('tool_calls');
    // the session goes on with a new message
    const next = await gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'never mind' }],
      // @ts-expect-error gateway extension
      session_id: (first as any).session_id,
    });
    expect(next.choices[0]!.message.content).toBe('Hello from mock');
  });

  it('records abandoned calls when the session goes on with a new message, and checks tools even with tool_choice none', async () => {
    mock.on('abandon me', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Kyiv' } });
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'abandon me' }], tools: [weather] });
    const next = await gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'something else' }],
      // @ts-expect-error gateway extension
      session_id: (first as any).session_id,
    });
    expect(next.choices[0]!.finish_reason).toBe('stop');
    expect(await record(gw, (first as any).process_id)).toMatchObject({ status: 'cancelled', error: { code: 'tool_calls_abandoned' } });

    const bad = await fetchJson(`${gw.url}/v1/chat/completions`, {
      body: { model: 'sonnet', messages: [{ role: 'user', content: 'x' }], tools: [fn('bad name!', {})], tool_choice: 'none' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('tools[0].function.name');
  });

  it('returns structured output as the content, and fails a run that ends without it', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] };
    mock.on('who is Bob', { kind: 'tool_use', name: 'StructuredOutput', input: { name: 'Bob', age: 42 } });
    const ok = await gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'who is Bob' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema } },
    });
    expect(JSON.parse(ok.choices[0]!.message.content!)).toEqual({ name: 'Bob', age: 42 });
    expect(mock.messageRequests().at(-1)!.body.tools.find((t: any) => t.name === 'StructuredOutput').input_schema).toEqual(schema);

    mock.on('no structure', { text: 'Just prose.' });
    const err = await gw.openai.chat.completions
      .create({ model: 'sonnet', messages: [{ role: 'user', content: 'no structure' }], response_format: { type: 'json_object' } })
      .catch((e: unknown) => e as { status: number; code: string });
    expect(err, JSON.stringify(err)).toMatchObject({ status: 502, code: 'structured_output_missing' });
  });
});

describe('client functions with Claude Code tools', () => {
  it('lets Claude run its own tools and hands the client its functions, in one run', async () => {
    const g = await startGateway({ mock, env: { ALLOWED_TOOLS: 'Bash' } });
    try {
      mock.on('mixed please', { kind: 'tool_use', name: 'Bash', input: { command: 'echo FROM-BASH' } });
      mock.on('FROM-BASH', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Madrid' } });
      mock.on('HOT-MADRID', { text: 'Bash said hi; Madrid is hot.' });
      const messages: Msg[] = [{ role: 'user', content: 'mixed please' }];
      const tools = [fn('Bash', { type: 'object' }), weather];
      const first = await g.openai.chat.completions.create({ model: 'sonnet', messages, tools });
      expect(calls(first).map((c) => c.function.name)).toEqual(['get_weather']);
      const upstreamTools = mock.messageRequests().find((r) => r.lastUserText.includes('mixed please'))!.body.tools.map((t: any) => t.name);
      expect(upstreamTools).toEqual(expect.arrayContaining(['Bash', 'mcp__client__get_weather']));
      const done = await g.openai.chat.completions.create({
        model: 'sonnet',
        tools,
        messages: [...messages, first.choices[0]!.message, ...toolMessages(calls(first), () => 'HOT-MADRID')],
      });
      expect(done.choices[0]!.message.content).toBe('Bash said hi; Madrid is hot.');
    } finally {
      await g.close();
    }
  });
});

describe('waiting runs that are gone', () => {
  it('expire after TOOL_WAIT_TTL_MS, and a continuation after a restart starts a fresh run from the conversation', async () => {
    const dir = tempDir();
    let g = await startGateway({ mock, dir, env: { TOOL_WAIT_TTL_MS: '400' } });
    try {
      mock.on('expire soon', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Oslo' } });
      const first = await g.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'expire soon' }], tools: [weather] });
      const expired = await waitFor(async () => {
        const r = await record(g, (first as any).process_id);
        return r.status === 'failed' ? r : undefined;
      });
      expect(expired.error).toMatchObject({ code: 'tool_results_timeout' });

      mock.on('second waiter', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Bergen' } });
      const waiting = await g.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'second waiter' }], tools: [weather] });
      await g.close();
      g = await startGateway({ mock, dir, env: { TOOL_WAIT_TTL_MS: '60000' } });
      expect((await record(g, (waiting as any).process_id)).error).toMatchObject({ code: 'shutting_down' });

      mock.on('BERGEN-FOG', { text: 'Foggy in Bergen.' });
      const after = await g.openai.chat.completions.create({
        model: 'sonnet',
        tools: [weather],
        messages: [{ role: 'user', content: 'second waiter' }, waiting.choices[0]!.message, ...toolMessages(calls(waiting), () => 'BERGEN-FOG')],
      });
      expect(after.choices[0]!.message.content).toBe('Foggy in Bergen.');
      expect(mock.messageRequests().at(-1)!.lastUserText).toContain('<conversation_history>');
    } finally {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
