import { createHash } from 'node:crypto';
import type { ChatRequest, Message, ToolCall } from '../../providers/types.js';
import { canonicalJson } from './response-cache.js';

/** Exchanges remembered at most (oldest forgotten first): each is a few dozen bytes. */
const MAX_EXCHANGES = 50_000;

/** What an answer was, as the client will send it back: its text and its calls. */
export interface Answer {
  text: string;
  toolCalls?: ToolCall[];
}

/** A stateless request found to continue an earlier exchange: that session, and the messages after it. */
export interface Continuation {
  sessionId: string;
  /** Index in the request's messages of the assistant message that ends the matched exchange. */
  through: number;
}

/**
 * A message as it compares: its role and content, whatever JSON shape the client gave them (an
 * assistant's text as one string, a null content as empty).
 */
function normalized(m: Message): unknown {
  const text = m.content.map((p) => (p.type === 'text' ? p.text : `[image:${p.url}]`)).join('');
  switch (m.role) {
    case 'assistant':
      return ['assistant', text, m.toolCalls.map((c) => [c.id, c.name, c.arguments])];
    case 'tool':
      return ['tool', m.toolCallId, text];
    default:
      return [m.role, text];
  }
}

const link = (prev: string, m: unknown): string => createHash('sha256').update(prev).update(canonicalJson(m)).digest('hex');

/**
 * Conversations that find their own session. A client that sends the whole conversation each turn
 * (most OpenAI clients) sends, ahead of its new message, an earlier request's messages followed by
 * the answer the gateway gave it: that exchange is looked up by a hash chain over the messages (one
 * hash per message, so every prefix ending at an assistant message is checked in one pass), seeded
 * with what must match too (the key, the model asked for, the system prompt, the tools). A match
 * continues that session with the new messages only, so the CLI resumes its real transcript (its
 * hot process) and an upstream's prompt cache stays warm. Only the session's latest exchange is
 * continued: one that has moved on since (another turn-2 after the same turn 1) is not, and the
 * request starts fresh, as any other. In memory: after a restart conversations start fresh once.
 */
export class AutoSessions {
  /** Exchange hash → the session it is in; in insertion order, for forgetting the oldest. */
  private readonly exchanges = new Map<string, string>();
  /** Session → the hash of its latest exchange. */
  private readonly latest = new Map<string, string>();

  /** Remembers that `sessionId` answered `request` (its messages as the client sent them, whole) with `answer`. */
  record(keyId: string | null, model: string, request: ChatRequest, sessionId: string, answer: Answer): void {
    const chain = this.chain(keyId, model, request);
    const last = chain.at(-1) ?? seed(keyId, model, request);
    const hash = link(last, normalized({ role: 'assistant', content: [{ type: 'text', text: answer.text }], toolCalls: answer.toolCalls ?? [] }));
    this.exchanges.delete(hash);
    this.exchanges.set(hash, sessionId);
    this.latest.set(sessionId, hash);
    while (this.exchanges.size > MAX_EXCHANGES) {
      const [oldest, sid] = this.exchanges.entries().next().value!;
      this.exchanges.delete(oldest);
      if (this.latest.get(sid) === oldest) this.latest.delete(sid);
    }
  }

  /**
   * The session a new-session request continues: the longest prefix of its messages that is an
   * exchange remembered as its session's latest, followed by a user message. Undefined when none is
   * (the request starts fresh).
   */
  find(keyId: string | null, model: string, request: ChatRequest): Continuation | undefined {
    const nonSystem = request.messages.map((m, i) => ({ m, i })).filter(({ m }) => m.role !== 'system');
    const chain = this.chain(keyId, model, request);
    for (let k = nonSystem.length - 2; k >= 0; k--) {
      // Tool results after it answer calls whose run, if it still waited, has taken them already
      // (session-intent.ts): one that no longer waits is not resumed half-way through a tool call.
      if (nonSystem[k]!.m.role !== 'assistant' || nonSystem[k + 1]!.m.role !== 'user') continue;
      const sessionId = this.exchanges.get(chain[k]!);
      if (sessionId && this.latest.get(sessionId) === chain[k]) return { sessionId, through: nonSystem[k]!.i };
    }
    return undefined;
  }

  /**
   * The session went on in a way not remembered (a turn by `session_id`, whose messages are only the
   * new ones): none of its exchanges is its latest any more.
   */
  movedOn(sessionId: string): void {
    this.latest.delete(sessionId);
  }

  /** Forgets a session (deleted). */
  forget(sessionId: string): void {
    const hash = this.latest.get(sessionId);
    if (hash) this.exchanges.delete(hash);
    this.latest.delete(sessionId);
  }

  /** The hash after each non-system message, in order. */
  private chain(keyId: string | null, model: string, request: ChatRequest): string[] {
    let prev = seed(keyId, model, request);
    return request.messages.filter((m) => m.role !== 'system').map((m) => (prev = link(prev, normalized(m))));
  }
}

/** What an exchange is continued under only when it is the same: who asks, what for, with which instructions and tools. */
function seed(keyId: string | null, model: string, r: ChatRequest): string {
  const system = r.messages.filter((m) => m.role === 'system').map(normalized);
  return link('', { keyId, model, system, tools: r.tools, toolChoice: r.toolChoice, responseFormat: r.responseFormat, permissions: r.permissions });
}
