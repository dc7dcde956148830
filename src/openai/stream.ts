import type { FinishReason } from '../../providers/types.js';
import type { OpenAIError } from '../core/errors.js';
import type { Outcome, RunEvent, RunIds } from '../core/run-types.js';
import { chatCompletionId, toUsage } from './response.js';
import type { ChatCompletionChunk } from './schemas.js';

/** What one `data:` line of an OpenAI stream carries: a chunk, an error that ends it, or `[DONE]`. */
export type StreamData = ChatCompletionChunk | { error: OpenAIError } | '[DONE]';

type Delta = ChatCompletionChunk['choices'][0]['delta'];

/**
 * Maps one run's events to the `chat.completion.chunk`s of its stream, all sharing the answer's id.
 * Pure but for what it remembers of the stream so far: which tool calls went out as they were
 * generated, so that the outcome adds only the others.
 */
export class ChunkStream {
  private readonly streamed = new Set<string>();

  constructor(
    private readonly ids: RunIds,
    private readonly includeUsage: boolean,
  ) {}

  /** The first chunk: the role, and the ids of the session and the process. */
  start(sessionId: string): ChatCompletionChunk {
    return { ...this.chunk({ role: 'assistant', content: '' }, null), session_id: sessionId, process_id: this.ids.processId };
  }

  /** The data lines an event adds to the stream (none for events clients do not see). */
  push(event: RunEvent): StreamData[] {
    switch (event.type) {
      case 'text':
        return [this.chunk({ content: event.text }, null)];
      case 'tool_call_start':
        this.streamed.add(event.id);
        return [this.toolCall(event.index, { id: event.id, name: event.name, arguments: '' })];
      case 'tool_call_delta':
        return [this.toolCall(event.index, { arguments: event.arguments })];
      case 'outcome':
        return this.end(event.outcome);
      default:
        return [];
    }
  }

  /** An error ends the stream as its last event; an answer with its finish chunk, usage if asked, `[DONE]`. */
  private end({ result, error }: Outcome): StreamData[] {
    if (!result) return [{ error: error!.toJSON() }];
    // Calls handed out without having been streamed (one at a time, after earlier results) go whole.
    const calls = (result.toolCalls ?? []).flatMap((c, i) =>
      this.streamed.has(c.id) ? [] : [this.toolCall(i, { id: c.id, name: c.name, arguments: c.arguments })],
    );
    // The finish chunk also carries the CLI's full result, as the non-streamed answer does.
    const finish = { ...this.chunk({}, result.finishReason), session_id: result.sessionId, claude_metadata: result.raw };
    const usage = this.includeUsage ? [{ ...this.chunk({}, null), choices: [], usage: toUsage(result.usage) }] : [];
    return [...calls, finish, ...usage, '[DONE]'];
  }

  /** A tool call as OpenAI streams it: index, id and name first, then argument fragments. */
  private toolCall(index: number, call: { id?: string; name?: string; arguments: string }): ChatCompletionChunk {
    const head = call.id ? { id: call.id, type: 'function' as const } : {};
    return this.chunk({ tool_calls: [{ index, ...head, function: { ...(call.name ? { name: call.name } : {}), arguments: call.arguments } }] }, null);
  }

  private chunk(delta: Delta, finish: FinishReason | null): ChatCompletionChunk {
    return {
      id: chatCompletionId(this.ids.completionId),
      object: 'chat.completion.chunk',
      created: this.ids.created,
      model: this.ids.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
  }
}
