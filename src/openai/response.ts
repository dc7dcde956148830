import type { TokenUsage } from '../../providers/types.js';
import type { RunResult } from '../core/run-types.js';
import type { ChatCompletion, Usage } from './schemas.js';

/** OpenAI's prompt_tokens include cached input; cache reads are reported as cached_tokens. */
export function toUsage(u: TokenUsage): Usage {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
  };
}

/** OpenAI's id of an answer, from the gateway's own. */
export const chatCompletionId = (completionId: string): string => `chatcmpl-${completionId}`;

export function toChatCompletion(result: RunResult): ChatCompletion {
  return {
    id: chatCompletionId(result.completionId),
    object: 'chat.completion',
    created: result.created,
    model: result.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          // OpenAI's shape: no text next to tool calls is null, not "".
          content: result.toolCalls?.length && !result.text ? null : result.text,
          refusal: null,
          ...(result.toolCalls?.length
            ? { tool_calls: result.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }
            : {}),
        },
        finish_reason: result.finishReason,
        logprobs: null,
      },
    ],
    usage: toUsage(result.usage),
    session_id: result.sessionId,
    process_id: result.processId,
    claude_metadata: result.raw,
  };
}

/**
 * The inverse of toChatCompletion, for records written when results were kept as the rendered
 * chat.completion: read back neutral, they render as they were, byte for byte (cache creation
 * tokens, which OpenAI counts in prompt_tokens, stay there as input tokens).
 */
export function fromChatCompletion(c: ChatCompletion): RunResult {
  const choice = c.choices[0]!;
  const calls = choice.message.tool_calls;
  return {
    completionId: c.id.replace(/^chatcmpl-/, ''),
    created: c.created,
    model: c.model,
    processId: c.process_id,
    sessionId: c.session_id,
    text: choice.message.content ?? '',
    ...(calls ? { toolCalls: calls.map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })) } : {}),
    finishReason: choice.finish_reason,
    usage: {
      inputTokens: c.usage.prompt_tokens - c.usage.prompt_tokens_details.cached_tokens,
      outputTokens: c.usage.completion_tokens,
      cacheReadTokens: c.usage.prompt_tokens_details.cached_tokens,
      cacheCreationTokens: 0,
    },
    raw: c.claude_metadata,
  };
}
