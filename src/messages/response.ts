import type { FinishReason, TokenUsage } from '../../providers/types.js';
import type { RunResult } from '../core/run-types.js';
import type { Message, MessageUsage, ResponseBlock, StopReason } from './schemas.js';

/** The Messages API's id of an answer, from the gateway's own. */
export const messageId = (completionId: string): string => `msg_${completionId}`;

const STOP_REASONS: Record<FinishReason, StopReason> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' };
export const stopReasonOf = (finish: FinishReason): StopReason => STOP_REASONS[finish];

/** Anthropic's input_tokens exclude cached input, which has its own two counts. */
export function toMessageUsage(u: TokenUsage): MessageUsage {
  return {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_read_input_tokens: u.cacheReadTokens,
    cache_creation_input_tokens: u.cacheCreationTokens,
  };
}

/** A tool call's input as the Messages API gives it: the parsed arguments (an object, whatever went wrong). */
export function inputOf(args: string): unknown {
  try {
    const input: unknown = JSON.parse(args || '{}');
    return input !== null && typeof input === 'object' && !Array.isArray(input) ? input : { value: input };
  } catch {
    return { arguments: args };
  }
}

/** The answer as content blocks: its text (when it has some, or nothing else), then its tool calls. */
export function contentOf(result: RunResult): ResponseBlock[] {
  const calls = result.toolCalls ?? [];
  const text: ResponseBlock[] = result.text || !calls.length ? [{ type: 'text', text: result.text }] : [];
  return [...text, ...calls.map((c) => ({ type: 'tool_use' as const, id: c.id, name: c.name, input: inputOf(c.arguments) }))];
}

export function toMessage(result: RunResult): Message {
  return {
    id: messageId(result.completionId),
    type: 'message',
    role: 'assistant',
    model: result.model,
    content: contentOf(result),
    stop_reason: stopReasonOf(result.finishReason),
    stop_sequence: null,
    usage: toMessageUsage(result.usage),
    session_id: result.sessionId,
    process_id: result.processId,
  };
}
