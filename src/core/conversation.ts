import type { Message, ToolCall } from '../../providers/types.js';

// A stateless provider (the Anthropic API, an OpenAI-compatible upstream) keeps no session: the
// gateway stores each session's conversation (ConversationStore) and sends all of it each turn.
// These two functions decide what is sent and what is kept; they do no I/O.

/** The answer of one turn, as the provider gave it. */
export interface TurnAnswer {
  text: string;
  toolCalls?: ToolCall[];
}

/**
 * What a stateless provider is sent when a client continues a session with `sent`.
 *
 * The session_id contract: only the messages after the last assistant message are new, the rest
 * lives in the session. So the result is
 * - the system messages of `sent`, first: the client sends its system prompt every turn and the
 *   current one wins (none is stored; any in `history` is dropped). Their positions collapse to the
 *   front, where stateless APIs take the system prompt anyway;
 * - the stored history, without system messages;
 * - the non-system messages of `sent` after its last assistant message, or all of them when it has
 *   none (a client that sends only the new turn). A client that repeats the transcript may have
 *   edited earlier turns: the stored ones are used, as the contract says.
 *
 * When `sent` ends with an assistant message nothing new is added: that message is taken as the
 * session's last answer, which the history already holds.
 */
export function continueConversation(history: Message[], sent: Message[]): Message[] {
  return [...sent.filter(isSystem), ...history.filter((m) => !isSystem(m)), ...newMessages(sent)];
}

/**
 * What is appended to the session's conversation after a turn: the new non-system messages of
 * `sent` (those after its last assistant message, all of them on a first turn or when it has none),
 * then the answer as an assistant message with its tool calls. System messages are never kept.
 *
 * An empty answer text is kept as no content part at all (a turn that only calls tools): the
 * Anthropic API refuses an empty text block.
 */
export function turnToStore(sent: Message[], answer: TurnAnswer): Message[] {
  const assistant: Message = {
    role: 'assistant',
    content: answer.text ? [{ type: 'text', text: answer.text }] : [],
    toolCalls: answer.toolCalls ?? [],
  };
  return [...newMessages(sent), assistant];
}

/** The non-system messages after the last assistant message (all of them when there is none). */
function newMessages(sent: Message[]): Message[] {
  let lastAssistant = sent.length - 1;
  while (lastAssistant >= 0 && sent[lastAssistant].role !== 'assistant') lastAssistant--;
  return sent.slice(lastAssistant + 1).filter((m) => !isSystem(m));
}

function isSystem(m: Message): boolean {
  return m.role === 'system';
}
