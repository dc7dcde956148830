import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import { type TestGateway, startGateway } from './support/gateway.js';
import { type MockUpstream, startMockAnthropic } from './support/mock-anthropic.js';

const weather: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

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

describe('client function calling', () => {
  it('returns tool_calls and continues the same run with the results', async () => {
    mock.on('weather in Paris?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' }, text: 'Let me check.' });
    mock.on('sunny 22C', { text: 'It is sunny and 22C in Paris.' });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Paris?' }];
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather] });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Let me check.');
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris' });

    const proc = await (await fetch(`${gw.url}/v1/processes/${(first as any).process_id}`)).json();
    expect(proc.status).toBe('requires_action');
    expect(proc.required_action.tool_call_ids).toEqual([call.id]);

    const upstreamBefore = mock.messageRequests().length;
    const second = await gw.openai.chat.completions.create({
      model: 'sonnet',
      tools: [weather],
      messages: [...messages, choice.message, { role: 'tool', tool_call_id: call.id, content: 'sunny 22C' }],
    });
    expect(second.choices[0]!.message.content).toBe('It is sunny and 22C in Paris.');
    expect(second.choices[0]!.finish_reason).toBe('stop');
    expect((second as any).session_id).toBe((first as any).session_id);
    // the same run went on: one more upstream request, carrying the tool result
    expect(mock.messageRequests().length).toBe(upstreamBefore + 1);
    expect(JSON.stringify(mock.messageRequests().at(-1)!.body.messages.at(-1))).toContain('sunny 22C');
    const after = await (await fetch(`${gw.url}/v1/processes/${(first as any).process_id}`)).json();
    expect(after.status).toBe('completed');
  });
});
