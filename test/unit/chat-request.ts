import type { ChatRequest, Message } from '../../providers/types.js';

/** Builders of neutral requests for the providers' unit tests. */
export const text = (t: string) => [{ type: 'text' as const, text: t }];
export const user = (t: string): Message => ({ role: 'user', content: text(t) });
export const fn = (name: string) => ({ name, parameters: { type: 'object' } });

/** A plain first turn ("hi") on `model`, with what the test changes. */
export const chatRequest = (model: string, over: Partial<ChatRequest> = {}): ChatRequest => ({
  model,
  messages: [user('hi')],
  tools: [],
  permissions: { allow: [], deny: [] },
  toolChoice: 'auto',
  parallelToolCalls: true,
  sampling: {},
  session: { kind: 'new' },
  stream: false,
  ...over,
});
