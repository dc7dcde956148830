// Conversations that find their own session (src/core/auto-sessions.ts): which earlier exchange a
// request carrying the whole conversation continues, and when it starts fresh instead.
import { describe, expect, it } from 'vitest';
import type { Message } from '../../providers/types.js';
import { AutoSessions } from '../../src/core/auto-sessions.js';
import { chatRequest, fn, text, user } from './chat-request.js';

const assistant = (t: string, toolCalls: { id: string; name: string; arguments: string }[] = []): Message => ({ role: 'assistant', content: t ? text(t) : [], toolCalls });
const system = (t: string): Message => ({ role: 'system', content: text(t) });
const req = (messages: Message[], over = {}) => chatRequest('claude-sonnet', { messages, ...over });

describe('AutoSessions', () => {
  it('continues the session whose latest exchange the messages begin with, through its answer', () => {
    const auto = new AutoSessions();
    auto.record('k', 'sonnet', req([system('be brief'), user('one')]), 'S', { text: 'A1' });
    const turn2 = req([system('be brief'), user('one'), assistant('A1'), user('two')]);
    expect(auto.find('k', 'sonnet', turn2)).toEqual({ sessionId: 'S', through: 2 });
    auto.record('k', 'sonnet', turn2, 'S', { text: 'A2' });
    const turn3 = req([system('be brief'), user('one'), assistant('A1'), user('two'), assistant('A2'), user('three')]);
    expect(auto.find('k', 'sonnet', turn3)).toEqual({ sessionId: 'S', through: 4 });
  });

  it('finds nothing for another key, model, system prompt or tool set, or an edited history', () => {
    const auto = new AutoSessions();
    auto.record('k', 'sonnet', req([user('one')]), 'S', { text: 'A1' });
    const next = [user('one'), assistant('A1'), user('two')];
    expect(auto.find('other', 'sonnet', req(next))).toBeUndefined();
    expect(auto.find('k', 'opus', req(next))).toBeUndefined();
    expect(auto.find('k', 'sonnet', req([system('new'), ...next]))).toBeUndefined();
    expect(auto.find('k', 'sonnet', req(next, { tools: [fn('f')] }))).toBeUndefined();
    expect(auto.find('k', 'sonnet', req([user('one!'), assistant('A1'), user('two')]))).toBeUndefined();
    expect(auto.find('k', 'sonnet', req([user('one'), assistant('A1 edited'), user('two')]))).toBeUndefined();
    // The exchange alone, nothing new after it: nothing to continue.
    expect(auto.find('k', 'sonnet', req([user('one'), assistant('A1')]))).toBeUndefined();
  });

  it('does not continue a session that moved on: a second turn-2 from the same turn 1 starts fresh', () => {
    const auto = new AutoSessions();
    auto.record('k', 'm', req([user('one')]), 'S', { text: 'A1' });
    const a = req([user('one'), assistant('A1'), user('two a')]);
    expect(auto.find('k', 'm', a)?.sessionId).toBe('S');
    auto.record('k', 'm', a, 'S', { text: 'A2a' });
    expect(auto.find('k', 'm', req([user('one'), assistant('A1'), user('two b')]))).toBeUndefined();
    // A turn by session_id moves it on too.
    auto.movedOn('S');
    expect(auto.find('k', 'm', req([user('one'), assistant('A1'), user('two a'), assistant('A2a'), user('three')]))).toBeUndefined();
  });

  it('continues after an answer with tool calls only at the next user message: results alone go to a run that still waits', () => {
    const auto = new AutoSessions();
    const calls = [{ id: 'c1', name: 'f', arguments: '{"x":1}' }];
    auto.record('k', 'm', req([user('go')]), 'S', { text: '', toolCalls: calls });
    const back = [user('go'), assistant('', calls), { role: 'tool' as const, toolCallId: 'c1', content: text('42') }];
    expect(auto.find('k', 'm', req(back))).toBeUndefined();
    auto.record('k', 'm', req(back), 'S', { text: 'done' });
    expect(auto.find('k', 'm', req([...back, assistant('done'), user('next')]))).toEqual({ sessionId: 'S', through: 3 });
  });

  it('forgets a deleted session', () => {
    const auto = new AutoSessions();
    auto.record(null, 'm', req([user('one')]), 'S', { text: 'A1' });
    auto.forget('S');
    expect(auto.find(null, 'm', req([user('one'), assistant('A1'), user('two')]))).toBeUndefined();
  });
});
