import type { FinishReason, ProviderResult, TokenUsage } from '../../providers/types.js';
import type { ChatCompletion, ChatCompletionChunk, Usage } from './schemas.js';

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

export interface CompletionIds {
  id: string;
  created: number;
  model: string;
  processId: string;
}

export function toChatCompletion(ids: CompletionIds, result: ProviderResult): ChatCompletion {
  return {
    id: ids.id,
    object: 'chat.completion',
    created: ids.created,
    model: ids.model,
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
    process_id: ids.processId,
    claude_metadata: result.raw,
  };
}

/** Builds the `chat.completion.chunk`s of one streamed completion, all sharing its id. */
export class ChunkBuilder {
  constructor(private readonly ids: CompletionIds) {}

  private chunk(delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null): ChatCompletionChunk {
    return {
      id: this.ids.id,
      object: 'chat.completion.chunk',
      created: this.ids.created,
      model: this.ids.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
  }

  first(sessionId: string): ChatCompletionChunk {
    return { ...this.chunk({ role: 'assistant', content: '' }, null), session_id: sessionId, process_id: this.ids.processId };
  }

  text(content: string): ChatCompletionChunk {
    return this.chunk({ content }, null);
  }

  /** A tool call as OpenAI streams it: index, id and name first, then argument fragments. */
  toolCall(index: number, call: { id?: string; name?: string; arguments: string }): ChatCompletionChunk {
    const head = call.id ? { id: call.id, type: 'function' as const } : {};
    return this.chunk({ tool_calls: [{ index, ...head, function: { ...(call.name ? { name: call.name } : {}), arguments: call.arguments } }] }, null);
  }

  /** The last choice chunk; it also carries the CLI's full result, as the non-streamed answer does. */
  finish(done: ChatCompletion): ChatCompletionChunk {
    return {
      ...this.chunk({}, done.choices[0]!.finish_reason),
      session_id: done.session_id,
      claude_metadata: done.claude_metadata,
    };
  }

  usage(done: ChatCompletion): ChatCompletionChunk {
    return { ...this.chunk({}, null), choices: [], usage: done.usage };
  }
}
