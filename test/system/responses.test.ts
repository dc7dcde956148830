// The OpenAI Responses API front door (`/v1/responses`), driven by the official `openai` SDK and by
// `@openai/agents`: the real Claude CLI against the mock Anthropic upstream, and `anthropic/<model>`
// (stateless) against the same mock; the fake CLI for ownership.
import { Agent, OpenAIResponsesModel, run, setDefaultOpenAIClient, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { type MockUpstream, type RecordedRequest, startMockAnthropic } from '../support/mock-anthropic.js';
import { type Contract, openContract } from '../support/openapi-contract.js';
import { fetchJson, waitFor, waitForStatus } from '../support/process-helpers.js';

let mock: MockUpstream;
let gw: TestGateway;
let contract: Contract;
beforeAll(async () => {
  contract = await openContract();
  mock = await startMockAnthropic();
  gw = await startGateway({ mock, env: { ALLOWED_TOOLS: 'Read' } });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a place',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  strict: false,
};

/** Every text of a recorded upstream request (system prompt and messages), as one string. */
const upstreamText = (req: RecordedRequest) => JSON.stringify([req.body.system, req.body.messages]);
const lastUpstream = () => mock.messageRequests().at(-1)!;
const ext = (r: unknown) => r as { session_id: string; process_id: string };

/** A plain HTTP call, its answer checked against openapi.yaml. */
async function documented(operationId: string, method: string, path: string, body?: unknown) {
  const res = await fetch(gw.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : text;
  const answer = { status: res.status, headers: Object.fromEntries(res.headers), text, body: json };
  contract.expectDocumented(operationId, answer);
  return answer;
}

/** The `event:` / `data:` pairs of a Responses stream. */
function sseEvents(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      expect(eventLine!.startsWith('event: ')).toBe(true);
      const data = JSON.parse(dataLine!.slice('data: '.length));
      expect(data.type).toBe(eventLine!.slice('event: '.length));
      return { event: data.type, data };
    });
}

describe('POST /v1/responses (real CLI)', () => {
  it('answers a string input with a response object, its id the process id', async () => {
    mock.on('hello responses R1', { text: 'Hi from R1', usage: { input_tokens: 12, output_tokens: 4, cache_read_input_tokens: 3 } });
    const { data: res, response: raw } = await gw.openai.responses.create({ model: 'sonnet', input: 'hello responses R1' }).withResponse();
    expect(res.object).toBe('response');
    expect(res.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(ext(res).process_id).toBe(res.id.replace('resp_', 'proc_'));
    expect(raw.headers.get('x-process-id')).toBe(ext(res).process_id);
    expect(raw.headers.get('x-session-id')).toBe(ext(res).session_id);
    expect(raw.headers.get('x-gateway-model')).toBe('claude-cli/sonnet');
    expect(res.status).toBe('completed');
    expect(res.output_text).toBe('Hi from R1');
    expect(res.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hi from R1', annotations: [] }] },
    ]);
    expect(res.usage).toMatchObject({ output_tokens: 4, input_tokens_details: { cached_tokens: expect.any(Number) }, output_tokens_details: { reasoning_tokens: 0 } });
    expect(res.usage!.total_tokens).toBe(res.usage!.input_tokens + res.usage!.output_tokens);
    expect(res.error).toBeNull();
    expect(res.metadata).toEqual({});
    // The process is there too, without what the front door keeps.
    const proc = (await fetchJson(`${gw.url}/v1/processes/${ext(res).process_id}`)).body;
    expect(proc.status).toBe('completed');
    expect(proc.meta).toBeUndefined();
  });

  it('takes items and instructions: the instructions as the system prompt, the items as the conversation', async () => {
    mock.on('items input R2', { text: 'Items seen' });
    const res = await gw.openai.responses.create({
      model: 'sonnet',
      instructions: 'Always answer like a pirate R2.',
      metadata: { team: 'blue' },
      temperature: 0.5,
      max_output_tokens: 300,
      store: true,
      truncation: 'disabled',
      include: [],
      input: [
        { role: 'user', content: 'First question R2' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'First answer R2', annotations: [] }] } as any,
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'items input R2' }] },
      ],
    });
    expect(res.output_text).toBe('Items seen');
    expect(res.instructions).toBe('Always answer like a pirate R2.');
    expect(res.metadata).toEqual({ team: 'blue' });
    expect(res.temperature).toBe(0.5);
    expect(res.max_output_tokens).toBe(300);
    const seen = upstreamText(lastUpstream());
    expect(seen).toContain('Always answer like a pirate R2.');
    expect(seen).toContain('First question R2');
    expect(seen).toContain('First answer R2');

    const items = await gw.openai.responses.inputItems.list(res.id, { order: 'asc' });
    expect(items.data.map((i: any) => [i.type, i.role])).toEqual([
      ['message', 'user'],
      ['message', 'assistant'],
      ['message', 'user'],
    ]);
    expect(items.data.every((i: any) => typeof i.id === 'string' && i.id.length > 0)).toBe(true);
    expect((items.data[0] as any).content).toEqual([{ type: 'input_text', text: 'First question R2' }]);
    const newest = await documented('listResponseInputItems', 'GET', `/v1/responses/${res.id}/input_items?limit=1`);
    expect(newest.body).toMatchObject({ object: 'list', has_more: true, first_id: items.data[2]!.id, last_id: items.data[2]!.id });
    const next = await documented('listResponseInputItems', 'GET', `/v1/responses/${res.id}/input_items?limit=5&after=${items.data[2]!.id}`);
    expect(next.body.data.map((i: any) => i.id)).toEqual([items.data[1]!.id, items.data[0]!.id]);
    expect(next.body.has_more).toBe(false);
  });

  it('streams the typed events responses.stream() consumes, its finalResponse the whole answer', async () => {
    mock.on('stream me R3', { text: ['Str', 'eam', 'ed R3'] });
    const stream = gw.openai.responses.stream({ model: 'sonnet', input: 'stream me R3' });
    const deltas: string[] = [];
    const types: string[] = [];
    const seqs: number[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    stream.on('event', (e) => {
      types.push(e.type);
      seqs.push(e.sequence_number);
    });
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Streamed R3');
    expect(deltas.join('')).toBe('Streamed R3');
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(types[0]).toBe('response.created');
    expect(types[1]).toBe('response.in_progress');
    expect(types.at(-1)).toBe('response.completed');
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done']) {
      expect(types).toContain(t);
    }
    expect(ext(final).session_id).toBeTruthy();
    // The stored response is the streamed one.
    const again = await gw.openai.responses.retrieve(final.id);
    expect(final.output).toMatchObject(again.output);
    expect(again.usage).toEqual(final.usage);

    // Raw: `event:` lines and data of the same type, each event valid against the document.
    const raw = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', input: 'stream me R3', stream: true }),
    });
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(raw.headers.get('x-gateway-model')).toBe('claude-cli/sonnet');
    for (const { data } of sseEvents(await raw.text())) contract.expectComponent('ResponseStreamEvent', data);
  });

  it('round-trips a function call: the run parks, function_call_output with previous_response_id continues it', async () => {
    mock.on('weather in Paris R4?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' } });
    mock.on('sunny 22C R4', { text: 'It is sunny and 22C in Paris.' });
    const first = await gw.openai.responses.create({ model: 'sonnet', input: 'weather in Paris R4?', tools: [weather] });
    expect(first.status).toBe('completed');
    const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call')!;
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', status: 'completed', id: expect.stringMatching(/^fc_/) });
    expect(JSON.parse(call.arguments)).toEqual({ location: 'Paris' });
    expect(first.tools).toEqual([{ ...weather, description: 'The weather in a place' }]);
    const proc = (await fetchJson(`${gw.url}/v1/processes/${ext(first).process_id}`)).body;
    expect(proc.status).toBe('requires_action');

    const before = mock.messageRequests().length;
    const second = await gw.openai.responses.create({
      model: 'sonnet',
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny 22C R4' }],
    });
    expect(second.output_text).toBe('It is sunny and 22C in Paris.');
    expect(second.previous_response_id).toBe(first.id);
    expect(ext(second).session_id).toBe(ext(first).session_id);
    // The same run went on: one more upstream request, carrying the result.
    expect(mock.messageRequests().length).toBe(before + 1);
    expect(JSON.stringify(lastUpstream().body.messages.at(-1))).toContain('sunny 22C R4');
  });

  it('streams a function call as function_call_arguments events', async () => {
    mock.on('stream a call R5', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Rome' } });
    const stream = gw.openai.responses.stream({ model: 'sonnet', input: 'stream a call R5', tools: [weather] });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(JSON.parse(call.arguments)).toEqual({ location: 'Rome' });
    expect(types).toContain('response.function_call_arguments.done');
    expect(types.at(-1)).toBe('response.completed');
    await gw.openai.responses.cancel(final.id);
  });

  it('continues the session of the previous response: the same session_id, the upstream sees the history', async () => {
    mock.on('my name is Ada R6', { text: 'Hello Ada.' });
    mock.on('what is my name R6', { text: 'You are Ada.' });
    const first = await gw.openai.responses.create({ model: 'sonnet', input: 'my name is Ada R6' });
    const second = await gw.openai.responses.create({ model: 'sonnet', input: 'what is my name R6', previous_response_id: first.id });
    expect(ext(second).session_id).toBe(ext(first).session_id);
    expect(second.output_text).toBe('You are Ada.');
    const seen = upstreamText(lastUpstream());
    expect(seen).toContain('my name is Ada R6');
    expect(seen).toContain('Hello Ada.');
  });

  it('forks from a response that is not the latest of its session: a new session holding the history up to it', async () => {
    mock.setDefault((req) => ({ text: `echo ${req.lastUserText}` }));
    const r1 = await gw.openai.responses.create({ model: 'sonnet', input: 'fork base R7' });
    const r2 = await gw.openai.responses.create({ model: 'sonnet', input: 'fork later R7', previous_response_id: r1.id });
    expect(ext(r2).session_id).toBe(ext(r1).session_id);
    const r3 = await gw.openai.responses.create({ model: 'sonnet', input: 'fork branch R7', previous_response_id: r1.id });
    expect(ext(r3).session_id).not.toBe(ext(r1).session_id);
    const seen = upstreamText(lastUpstream());
    expect(seen).toContain('fork base R7');
    expect(seen).toContain('echo fork base R7');
    expect(seen).toContain('fork branch R7');
    expect(seen).not.toContain('fork later R7');
    // The fork's branch continues as any other session.
    const r4 = await gw.openai.responses.create({ model: 'sonnet', input: 'fork next R7', previous_response_id: r3.id });
    expect(ext(r4).session_id).toBe(ext(r3).session_id);
    mock.setDefault({ text: 'Hello from mock' });
  });

  it('runs in the background: queued or in progress at once, retrieved, streamed again, cancelled', async () => {
    mock.on('background done R8', { text: ['Back', 'ground R8'] });
    const started = await gw.openai.responses.create({ model: 'sonnet', input: 'background done R8', background: true });
    expect(['queued', 'in_progress', 'completed']).toContain(started.status);
    expect(started.background).toBe(true);
    await waitForStatus(gw.url, ext(started).process_id, ['completed']);
    const done = await gw.openai.responses.retrieve(started.id);
    expect(done.status).toBe('completed');
    expect(done.output_text).toBe('Background R8');
    // The events again, from the record: the text in one delta.
    const replay = gw.openai.responses.stream({ response_id: started.id });
    const deltas: string[] = [];
    replay.on('response.output_text.delta', (e) => deltas.push(e.delta));
    expect((await replay.finalResponse()).output_text).toBe('Background R8');
    expect(deltas).toEqual(['Background R8']);
    const after = await fetch(`${gw.url}/v1/responses/${started.id}?stream=true&starting_after=3`);
    const events = sseEvents(await after.text());
    expect(events[0]!.data.sequence_number).toBe(4);
    expect(events.at(-1)!.event).toBe('response.completed');

    // One still running: cancelled.
    mock.on('background hang R8', { kind: 'hang' });
    const hanging = await gw.openai.responses.create({ model: 'sonnet', input: 'background hang R8', background: true });
    await waitForStatus(gw.url, ext(hanging).process_id, ['running']);
    expect((await gw.openai.responses.retrieve(hanging.id)).status).toBe('in_progress');
    // A live replay ends when the response does.
    const live = fetch(`${gw.url}/v1/responses/${hanging.id}?stream=true`).then((r) => r.text());
    const cancelled = await gw.openai.responses.cancel(hanging.id);
    expect(cancelled.status).toBe('cancelled');
    const liveEvents = sseEvents(await live);
    expect(liveEvents.map((e) => e.event)).toEqual(['response.created', 'response.in_progress', 'error', 'response.failed']);
    expect(liveEvents.at(-1)!.data.response.status).toBe('cancelled');
  });

  it('deletes a response (cancelling it if it runs); its process record stays', async () => {
    mock.on('delete me R9', { kind: 'hang' });
    const res = await gw.openai.responses.create({ model: 'sonnet', input: 'delete me R9', background: true });
    await waitForStatus(gw.url, ext(res).process_id, ['running']);
    const deleted = await documented('deleteResponse', 'DELETE', `/v1/responses/${res.id}`);
    expect(deleted.body).toEqual({ id: res.id, object: 'response.deleted', deleted: true });
    expect((await fetchJson(`${gw.url}/v1/processes/${ext(res).process_id}`)).body.status).toBe('cancelled');
  });

  it('404 for an unknown response, in the OpenAI error shape', async () => {
    for (const id of ['resp_00000000000000000000000000000000', 'nope']) {
      const res = await documented('getResponse', 'GET', `/v1/responses/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'response_not_found', type: 'invalid_request_error', param: 'id' });
    }
    // A chat completion's process is no response.
    const chat = await gw.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'a chat R10' }] });
    const id = (chat as any).process_id.replace('proc_', 'resp_');
    expect((await fetchJson(`${gw.url}/v1/responses/${id}`)).status).toBe(404);
    const bad = await fetchJson(`${gw.url}/v1/responses`, { body: { model: 'sonnet', input: 'x', previous_response_id: 'resp_00000000000000000000000000000000' } });
    expect(bad.status).toBe(404);
    expect(bad.body.error).toMatchObject({ code: 'response_not_found', param: 'previous_response_id' });
    await expect(gw.openai.responses.retrieve('resp_11111111111111111111111111111111')).rejects.toMatchObject({ status: 404 });
  });

  it('400 naming the bad field', async () => {
    const cases: [unknown, string][] = [
      [{ input: 'x' }, 'model'],
      [{ model: 'sonnet' }, 'input'],
      [{ model: 'sonnet', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 5 }] }] }, 'input[0].content[0].text'],
      [{ model: 'sonnet', input: [{ type: 'reasoning', summary: [] }] }, 'input[0].type'],
      [{ model: 'sonnet', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
      [{ model: 'sonnet', input: 'x', text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema'],
      [{ model: 'sonnet', input: 'x', temperature: 7 }, 'temperature'],
      [{ model: 'sonnet', input: 'x', reasoning: { effort: 'extreme' } }, 'reasoning.effort'],
      [{ model: 'sonnet', input: 'x', prompt: { id: 'pmpt_1' } }, 'prompt'],
      // The provider's refusals, named as the Responses request names them.
      [{ model: 'sonnet', input: 'x', tools: [{ type: 'function', name: 'Bash' }] }, 'tools[0].name'],
      [{ model: 'sonnet', input: 'x', tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice'],
    ];
    for (const [body, param] of cases) {
      const res = await documented('createResponse', 'POST', '/v1/responses', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.param, JSON.stringify(body)).toBe(param);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
    const unknown = await fetchJson(`${gw.url}/v1/responses`, { body: { model: 'nope-model', input: 'x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('model_not_found');
  });

  it('answers documented bodies for create, retrieve and cancel', async () => {
    const created = await documented('createResponse', 'POST', '/v1/responses', { model: 'sonnet', input: 'documented R11', text: { format: { type: 'text' } } });
    expect(created.status).toBe(200);
    const got = await documented('getResponse', 'GET', `/v1/responses/${created.body.id}`);
    expect(got.body).toEqual(created.body);
    const cancelled = await documented('cancelResponse', 'POST', `/v1/responses/${created.body.id}/cancel`);
    expect(cancelled.body.status).toBe('completed');
    const streamed = await documented('getResponse', 'GET', `/v1/responses/${created.body.id}?stream=true`);
    expect(sseEvents(streamed.text).at(-1)!.event).toBe('response.completed');
  });
});

describe('anthropic/<model> (stateless)', () => {
  const MODEL = 'anthropic/claude-sonnet-4-5';

  it('round-trips a function call with previous_response_id: the gateway sends the whole conversation', async () => {
    mock.on('weather in Oslo RA1?', { kind: 'tool_use', name: 'get_weather', input: { location: 'Oslo' }, text: 'Checking.' });
    mock.on('cold 2C RA1', { text: 'It is cold in Oslo.' });
    const first = await gw.openai.responses.create({ model: MODEL, input: 'weather in Oslo RA1?', tools: [weather] });
    const call = first.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(first.output[0]).toMatchObject({ type: 'message', content: [{ text: 'Checking.' }] });
    expect(call.name).toBe('get_weather');
    const second = await gw.openai.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'cold 2C RA1' }],
    });
    expect(second.output_text).toBe('It is cold in Oslo.');
    expect(ext(second).session_id).toBe(ext(first).session_id);
    const sent = lastUpstream().body.messages;
    expect(sent.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(sent[1])).toContain(call.call_id);
    expect(JSON.stringify(sent[2])).toContain('cold 2C RA1');
  });

  it('streams', async () => {
    mock.on('stream anthropic RA2', { text: ['An', 'thropic'] });
    const final = await gw.openai.responses.stream({ model: MODEL, input: 'stream anthropic RA2' }).finalResponse();
    expect(final.output_text).toBe('Anthropic');
    expect(final.model).toBe(MODEL);
  });
});

describe('@openai/agents with its default (Responses) model', () => {
  it('runs an agent whose function tool is called through the gateway', async () => {
    setTracingDisabled(true);
    mock.on('agent weather RG1', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Lima' } });
    mock.on('Lima: warm RG1', { text: 'Lima is warm today.' });
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'The weather in a place',
      parameters: z.object({ location: z.string() }),
      execute: async ({ location }) => {
        calls.push(location);
        return `${location}: warm RG1`;
      },
    });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const agent = new Agent({ name: 'Weather', instructions: 'Answer with the weather.', tools: [getWeather], model: new OpenAIResponsesModel(client, 'sonnet') });
    const result = await run(agent, 'agent weather RG1');
    expect(calls).toEqual(['Lima']);
    expect(result.finalOutput).toBe('Lima is warm today.');
  });

  it('streams an agent run on the default client, the model by name', async () => {
    setTracingDisabled(true);
    mock.on('agent stream RG2', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Quito' } });
    mock.on('Quito: mild RG2', { text: ['Quito is ', 'mild.'] });
    const getWeather = tool({
      name: 'get_weather',
      description: 'The weather in a place',
      parameters: z.object({ location: z.string() }),
      execute: async ({ location }) => `${location}: mild RG2`,
    });
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 }));
    const agent = new Agent({ name: 'Weather', instructions: 'Answer with the weather.', tools: [getWeather], model: 'sonnet' });
    const result = await run(agent, 'agent stream RG2', { stream: true });
    let text = '';
    for await (const event of result.toTextStream()) text += event;
    await result.completed;
    expect(text).toBe('Quito is mild.');
    expect(result.finalOutput).toBe('Quito is mild.');
  });
});

describe('ownership', () => {
  let keyed: TestGateway;
  beforeAll(async () => {
    keyed = await startGateway({ fake: true, env: { GATEWAY_API_KEYS: 'alice:ka-secret,bob:kb-secret', POOL_SIZE: '0' } });
  });
  afterAll(async () => {
    await keyed?.close();
  });

  it("another key's response is a 404 everywhere", async () => {
    const as = (key: string) => new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: key, maxRetries: 0 });
    const alice = as('ka-secret');
    const bob = as('kb-secret');
    const mine = await alice.responses.create({ model: 'sonnet', input: 'hello' });
    expect(mine.status).toBe('completed');
    expect((await alice.responses.retrieve(mine.id)).id).toBe(mine.id);
    await expect(bob.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.cancel(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.inputItems.list(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.create({ model: 'sonnet', input: 'x', previous_response_id: mine.id })).rejects.toMatchObject({ status: 404 });
    await waitFor(async () => (await alice.responses.inputItems.list(mine.id)).data.length === 1 || undefined);
  });
});
