import { randomUUID } from 'node:crypto';
import type { SseEvent } from '../sse.js';
import { type FinishReason, ProviderError, type ProviderEvent, type ProviderResult, type ToolCall } from '../types.js';
import { errorOf, streamError } from '../upstream-errors.js';
import { type Chunk, type ToolCallDelta, type Usage, chunkSchema } from './wire.js';

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'stop',
};

/** A client call as its deltas built it, by index among the answer's calls. */
type Call = ToolCall & { index: number };

/**
 * Turns the chunks of one streamed chat completion into provider events, and assembles the
 * completion they describe for the result. Only the first choice counts: the provider asks for one.
 */
export class CompletionStream {
  private text = '';
  private readonly calls: Call[] = [];
  /** The calls by the upstream's index, which need not count from 0 nor be dense. */
  private readonly byIndex = new Map<number, Call>();
  private finishReason: string | undefined;
  private usage: Usage | undefined;
  /** id, created, model and fingerprint as the latest chunk that had them said. */
  private readonly meta: Record<string, unknown> = {};
  private done = false;

  /** `api` names the upstream in errors. */
  constructor(private readonly api: string) {}

  private badOutput(message: string): ProviderError {
    return new ProviderError('bad_output', `the ${this.api} ${message}`, { code: 'bad_upstream_output' });
  }

  /** The provider events one SSE event stands for; an error chunk is thrown. */
  push(sse: SseEvent): ProviderEvent[] {
    // Nothing counts after [DONE]: the stream's end, which servers may follow with noise.
    if (this.done) return [];
    if (sse.data.trim() === '[DONE]') {
      this.done = true;
      return [];
    }
    let json: unknown;
    try {
      json = JSON.parse(sse.data);
    } catch {
      throw this.badOutput(`streamed a chunk that is not JSON: ${sse.data.slice(0, 200)}`);
    }
    if ((json as { error?: unknown } | null)?.error != null || sse.event === 'error') {
      throw streamError(this.api, errorOf(json) ?? { message: sse.data.slice(0, 500) });
    }
    const parsed = chunkSchema.safeParse(json);
    if (!parsed.success) throw this.badOutput(`streamed a chunk the gateway cannot read: ${sse.data.slice(0, 200)}`);
    return this.chunk(parsed.data);
  }

  private chunk(chunk: Chunk): ProviderEvent[] {
    for (const field of ['id', 'created', 'model', 'system_fingerprint'] as const) if (chunk[field] != null) this.meta[field] = chunk[field];
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (!choice) return [];
    const events: ProviderEvent[] = [];
    // A refusal is the model's answer, in its own field: the client sees it as the text.
    for (const text of [choice.delta?.content, choice.delta?.refusal]) {
      if (!text) continue;
      this.text += text;
      events.push({ type: 'text', text });
    }
    choice.delta?.tool_calls?.forEach((delta, position) => events.push(...this.toolCall(delta, position)));
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      events.push(...this.closeCalls());
    }
    return events;
  }

  private toolCall(delta: ToolCallDelta, position: number): ProviderEvent[] {
    const upstreamIndex = delta.index ?? position;
    const events: ProviderEvent[] = [];
    let call = this.byIndex.get(upstreamIndex);
    if (!call) {
      const name = delta.function?.name;
      if (!name) throw this.badOutput('streamed a tool call without its name');
      // Some servers give no id; the client needs one to send the result back.
      call = { index: this.calls.length, id: delta.id || `call_${randomUUID().replaceAll('-', '')}`, name, arguments: '' };
      this.calls.push(call);
      this.byIndex.set(upstreamIndex, call);
      events.push({ type: 'tool_call_start', index: call.index, id: call.id, name });
    }
    const args = delta.function?.arguments;
    if (args) {
      call.arguments += args;
      events.push({ type: 'tool_call_delta', index: call.index, arguments: args });
    }
    return events;
  }

  /** A call without arguments still takes an object: clients parse them. */
  private closeCalls(): ProviderEvent[] {
    return this.calls
      .filter((c) => !c.arguments)
      .map((c) => {
        c.arguments = '{}';
        return { type: 'tool_call_delta', index: c.index, arguments: '{}' };
      });
  }

  /** The run's result once the stream ended; one that ended before its finish reason failed. */
  result(sessionId: string): ProviderResult {
    if (!this.finishReason) {
      throw new ProviderError('upstream', `the ${this.api} stream ended before the answer was complete`, { code: 'upstream_stream_incomplete' });
    }
    const toolCalls = this.calls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args }));
    const finish = FINISH[this.finishReason] ?? 'stop';
    const cached = this.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    return {
      text: this.text,
      ...(toolCalls.length ? { toolCalls } : {}),
      sessionId,
      // Some servers (Ollama's) finish an answer with calls as `stop`: the calls are what it waits for.
      finishReason: toolCalls.length && finish === 'stop' ? 'tool_calls' : finish,
      // prompt_tokens counts the cached tokens too; the neutral usage keeps them apart.
      usage: {
        inputTokens: Math.max(0, (this.usage?.prompt_tokens ?? 0) - cached),
        outputTokens: this.usage?.completion_tokens ?? 0,
        cacheReadTokens: cached,
        cacheCreationTokens: 0,
      },
      raw: this.completion(toolCalls),
    };
  }

  /** The completion as the upstream's non-streamed answer would have it. */
  private completion(toolCalls: ToolCall[]): Record<string, unknown> {
    const message = {
      role: 'assistant',
      content: this.text || (toolCalls.length ? null : ''),
      ...(toolCalls.length ? { tool_calls: toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
    };
    return {
      ...this.meta,
      object: 'chat.completion',
      choices: [{ index: 0, message, finish_reason: this.finishReason }],
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }
}
