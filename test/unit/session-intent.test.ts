// Tool results find the run that waits for them (src/core/session-intent.ts): the core's part of
// placing a request, before the provider prepares it.
import { describe, expect, it } from 'vitest';
import type { ChatRequest, Message } from '../../providers/types.js';
import { routeToolResults } from '../../src/core/session-intent.js';

const SESSION = '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f';
const WAITING = '0b6c3f0e-8a44-4d5b-9a1e-2f7d9c3b5a10';

const text = (t: string) => [{ type: 'text' as const, text: t }];
const answering = (id: string): Message[] => [
  { role: 'user', content: text('weather?') },
  { role: 'assistant', content: [], toolCalls: [{ id, name: 'get_weather', arguments: '{}' }] },
  { role: 'tool', toolCallId: id, content: text('sunny') },
];
const chat = (messages: Message[], session: ChatRequest['session'] = { kind: 'new' }): ChatRequest => ({
  model: 'sonnet',
  messages,
  tools: [],
  permissions: { allow: [], deny: [] },
  toolChoice: 'auto',
  parallelToolCalls: true,
  sampling: {},
  session,
  stream: false,
});
/** A run waits in WAITING for `call_wait`; the ids asked about are kept. */
const lookup = () => {
  const asked: string[][] = [];
  const find = (ids: string[]) => (asked.push(ids), ids.includes('call_wait') ? WAITING : undefined);
  return { asked, find };
};

describe('tool results → the run that waits for them', () => {
  it('continue the waiting run’s session, when the request names none or that one', () => {
    const { asked, find } = lookup();
    expect(routeToolResults(chat(answering('call_wait')), find)).toEqual({
      request: chat(answering('call_wait'), { kind: 'continue', sessionId: WAITING }),
      answersWaitingRun: true,
    });
    expect(asked).toEqual([['call_wait']]);
    const named = chat(answering('call_wait'), { kind: 'continue', sessionId: WAITING });
    expect(routeToolResults(named, find)).toEqual({ request: named, answersWaitingRun: true });
  });

  it('leave the request as asked when nobody waits for them, or the request names another session', () => {
    const { find } = lookup();
    for (const request of [chat(answering('call_gone')), chat(answering('call_wait'), { kind: 'continue', sessionId: SESSION })]) {
      expect(routeToolResults(request, find)).toEqual({ request, answersWaitingRun: false });
    }
  });

  it('are only the tool messages that end the request: nothing is looked up otherwise', () => {
    const { asked, find } = lookup();
    const request = chat([...answering('call_wait'), { role: 'user', content: text('and?') }]);
    expect(routeToolResults(request, find)).toEqual({ request, answersWaitingRun: false });
    expect(asked).toEqual([]);
  });
});
