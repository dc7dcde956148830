// The pure merge of a stored conversation with what a client sends when it continues a session on
// a stateless provider, and what is kept of each turn.
import { describe, expect, it } from 'vitest';
import type { Message, ToolCall } from '../../providers/types.js';
import { continueConversation, turnToStore } from '../../src/core/conversation.js';

const text = (t: string) => [{ type: 'text' as const, text: t }];
const system = (t: string): Message => ({ role: 'system', content: text(t) });
const user = (t: string): Message => ({ role: 'user', content: text(t) });
const assistant = (t: string, toolCalls: ToolCall[] = []): Message => ({ role: 'assistant', content: t ? text(t) : [], toolCalls });
const tool = (id: string, t: string): Message => ({ role: 'tool', toolCallId: id, content: text(t) });
const call = (id: string, name = 'get_weather'): ToolCall => ({ id, name, arguments: '{"city":"Paris"}' });

describe('continueConversation', () => {
  it('sends only the system messages and the new turn when there is no history (a first turn)', () => {
    const sent = [system('be brief'), user('hi')];
    expect(continueConversation([], sent)).toEqual([system('be brief'), user('hi')]);
  });

  it('puts the stored history between the system prompt and the new messages of a client that sends only the new turn', () => {
    const history = [user('hi'), assistant('hello')];
    const sent = [system('be brief'), user('how are you?')];
    expect(continueConversation(history, sent)).toEqual([system('be brief'), user('hi'), assistant('hello'), user('how are you?')]);
  });

  it('takes only what follows the last assistant message of a client that repeats the transcript, and the stored turns over its copy', () => {
    const history = [user('hi'), assistant('hello')];
    // The client edited the earlier turns: the session's own are used.
    const sent = [system('be brief'), user('HI (edited)'), assistant('HELLO (edited)'), user('and now?'), user('quickly')];
    expect(continueConversation(history, sent)).toEqual([system('be brief'), user('hi'), assistant('hello'), user('and now?'), user('quickly')]);
  });

  it('lets the current system prompt win: stored system messages are dropped, and those of sent go first wherever they stand', () => {
    const history = [system('old prompt'), user('hi'), assistant('hello')];
    const sent = [user('hi'), assistant('hello'), system('new prompt'), user('next'), system('also this')];
    expect(continueConversation(history, sent)).toEqual([
      system('new prompt'),
      system('also this'),
      user('hi'),
      assistant('hello'),
      user('next'),
    ]);
  });

  it('sends tool results after the stored assistant message that called the tools', () => {
    const history = [user('weather in Paris and Rome?'), assistant('', [call('c1'), call('c2')])];
    const sent = [user('weather in Paris and Rome?'), assistant('', [call('c1'), call('c2')]), tool('c1', 'sunny'), tool('c2', 'rainy')];
    expect(continueConversation(history, sent)).toEqual([...history, tool('c1', 'sunny'), tool('c2', 'rainy')]);
  });

  it('adds nothing when sent ends with an assistant message (the session already holds it)', () => {
    const history = [user('hi'), assistant('hello')];
    expect(continueConversation(history, [user('hi'), assistant('hello')])).toEqual(history);
  });

  it('does not change its arguments', () => {
    const history = [system('old'), user('hi'), assistant('hello')];
    const sent = [system('new'), user('next')];
    const copies = [structuredClone(history), structuredClone(sent)];
    continueConversation(history, sent);
    expect([history, sent]).toEqual(copies);
  });
});

describe('turnToStore', () => {
  it('keeps the whole non-system first turn and the answer', () => {
    const sent = [system('be brief'), user('hi'), user('there')];
    expect(turnToStore(sent, { text: 'hello' })).toEqual([user('hi'), user('there'), assistant('hello')]);
  });

  it('keeps only what follows the last assistant message', () => {
    const sent = [system('be brief'), user('hi'), assistant('hello'), system('late prompt'), user('next')];
    expect(turnToStore(sent, { text: 'ok' })).toEqual([user('next'), assistant('ok')]);
  });

  it('keeps an answer that calls tools with its calls, and no empty text part', () => {
    const stored = turnToStore([user('weather?')], { text: '', toolCalls: [call('c1'), call('c2', 'get_time')] });
    expect(stored).toEqual([user('weather?'), { role: 'assistant', content: [], toolCalls: [call('c1'), call('c2', 'get_time')] }]);
  });

  it('keeps the tool results of a turn that answers calls, then the next answer', () => {
    const sent = [user('weather?'), assistant('let me look', [call('c1')]), tool('c1', 'sunny')];
    expect(turnToStore(sent, { text: 'It is sunny.' })).toEqual([tool('c1', 'sunny'), assistant('It is sunny.')]);
  });

  it('composes with continueConversation: the stored turns are what the next turn is sent', () => {
    const turn1 = [system('be brief'), user('weather?')];
    const history = turnToStore(turn1, { text: '', toolCalls: [call('c1')] });
    const turn2 = [system('be brief'), tool('c1', 'sunny')];
    expect(continueConversation(history, turn2)).toEqual([system('be brief'), user('weather?'), assistant('', [call('c1')]), tool('c1', 'sunny')]);
    const history2 = [...history, ...turnToStore(turn2, { text: 'Sunny.' })];
    expect(history2).toEqual([user('weather?'), assistant('', [call('c1')]), tool('c1', 'sunny'), assistant('Sunny.')]);
  });
});
