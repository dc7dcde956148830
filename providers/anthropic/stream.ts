import { type FinishReason, ProviderError, type ProviderEvent, type ProviderResult, type ToolCall } from '../types.js';
import { streamError } from './errors.js';
import type { SseEvent } from '../sse.js';
import { type Usage, knownDelta, streamEventSchema } from './wire.js';

/** A content block as the events built it: text and thinking grow by deltas, a tool call's input by JSON fragments. */
interface Block {
  start: Record<string, unknown>;
  type: string;
  text: string;
  /** A tool call's arguments as streamed (a JSON string). */
  json: string;
  /** The client call it is, by index among the message's calls (absent for the structured answer). */
  call?: ToolCall & { index: number };
}

const FINISH: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  refusal: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
};

const badOutput = (message: string) => new ProviderError('bad_output', message, { code: 'bad_upstream_output' });

/**
 * Turns the events of one streamed message into provider events, and assembles the message they
 * describe for the result. `outputTool`: the forced tool whose input is a structured answer; its
 * JSON streams as the answer's text.
 */
export class MessageStream {
  private message: Record<string, unknown> | undefined;
  private readonly blocks: Block[] = [];
  private calls = 0;
  private stopReason: string | null | undefined;
  private stopSequence: string | null | undefined;
  private usage: Usage = {};
  private stopped = false;

  constructor(private readonly outputTool?: string) {}

  /** The provider events one SSE event stands for; an `error` event is thrown. */
  push(sse: SseEvent): ProviderEvent[] {
    let json: unknown;
    try {
      json = JSON.parse(sse.data);
    } catch {
      throw badOutput(`the Anthropic API streamed an event that is not JSON: ${sse.data.slice(0, 200)}`);
    }
    const type = (json as { type?: unknown } | null)?.type;
    const parsed = streamEventSchema.safeParse(json);
    if (!parsed.success) {
      if (typeof type === 'string' && !streamEventSchema.options.some((o) => o.shape.type.value === type)) return []; // a newer event kind
      throw badOutput(`the Anthropic API streamed a '${String(type)}' event the gateway cannot read`);
    }
    const ev = parsed.data;
    switch (ev.type) {
      case 'message_start':
        this.message = ev.message;
        this.usage = { ...ev.message.usage };
        return [];
      case 'content_block_start':
        return this.startBlock(ev.index, ev.content_block);
      case 'content_block_delta':
        return this.delta(ev.index, ev.delta);
      case 'content_block_stop':
        return this.stopBlock(ev.index);
      case 'message_delta':
        this.stopReason = ev.delta.stop_reason;
        this.stopSequence = ev.delta.stop_sequence;
        // Its counts are cumulative: they replace those of message_start they repeat.
        this.usage = { ...this.usage, ...definedOnly(ev.usage ?? {}) };
        return [];
      case 'message_stop':
        this.stopped = true;
        return [];
      case 'ping':
        return [];
      case 'error':
        throw streamError(ev.error);
    }
  }

  private block(index: number): Block {
    const block = this.blocks[index];
    if (!block) throw badOutput(`the Anthropic API streamed a delta for content block ${index}, which it never started`);
    return block;
  }

  private startBlock(index: number, start: Record<string, unknown> & { type: string; id?: string; name?: string }): ProviderEvent[] {
    const block: Block = { start, type: start.type, text: typeof start.text === 'string' ? start.text : '', json: '' };
    this.blocks[index] = block;
    if (start.type !== 'tool_use' || start.name === this.outputTool) return block.text && start.type === 'text' ? [{ type: 'text', text: block.text }] : [];
    if (!start.id || !start.name) throw badOutput('the Anthropic API streamed a tool_use block without its id or name');
    block.call = { index: this.calls++, id: start.id, name: start.name, arguments: '' };
    return [{ type: 'tool_call_start', index: block.call.index, id: start.id, name: start.name }];
  }

  private delta(index: number, raw: unknown): ProviderEvent[] {
    const block = this.block(index);
    const delta = knownDelta(raw);
    switch (delta?.type) {
      case 'text_delta':
        block.text += delta.text;
        return [{ type: 'text', text: delta.text }];
      case 'thinking_delta':
        block.text += delta.thinking;
        return [];
      case 'input_json_delta':
        block.json += delta.partial_json;
        if (block.call) return [{ type: 'tool_call_delta', index: block.call.index, arguments: delta.partial_json }];
        // The structured answer's JSON is the answer's text.
        return block.type === 'tool_use' && delta.partial_json ? [{ type: 'text', text: delta.partial_json }] : [];
      default:
        return [];
    }
  }

  private stopBlock(index: number): ProviderEvent[] {
    const block = this.block(index);
    if (!block.call) return [];
    block.call.arguments = block.json;
    // A call without arguments still takes an object: clients parse them.
    if (block.json) return [];
    block.call.arguments = '{}';
    return [{ type: 'tool_call_delta', index: block.call.index, arguments: '{}' }];
  }

  /** The run's result once the message ended; a stream that ended before `message_stop` failed. */
  result(sessionId: string): ProviderResult {
    if (!this.message || !this.stopped) {
      throw new ProviderError('upstream', 'the Anthropic API stream ended before the message was complete', { code: 'upstream_stream_incomplete' });
    }
    const structured = this.blocks.find((b) => b.type === 'tool_use' && !b.call);
    const toolCalls = this.blocks.flatMap((b) => (b.call ? [{ id: b.call.id, name: b.call.name, arguments: b.call.arguments }] : []));
    const finish = FINISH[this.stopReason ?? ''] ?? 'stop';
    return {
      text: structured ? structured.json : this.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join(''),
      ...(toolCalls.length ? { toolCalls } : {}),
      sessionId,
      // The structured answer comes as a tool call the model was made to make: it is the answer.
      finishReason: structured && finish === 'tool_calls' ? 'stop' : finish,
      usage: {
        inputTokens: this.usage.input_tokens ?? 0,
        outputTokens: this.usage.output_tokens ?? 0,
        cacheReadTokens: this.usage.cache_read_input_tokens ?? 0,
        cacheCreationTokens: this.usage.cache_creation_input_tokens ?? 0,
      },
      raw: {
        ...this.message,
        content: this.blocks.map(contentOf),
        stop_reason: this.stopReason ?? null,
        stop_sequence: this.stopSequence ?? null,
        usage: this.usage,
      },
    };
  }
}

/** A block of the assembled message, as the API's non-streamed answer would have it. */
function contentOf(b: Block): Record<string, unknown> {
  if (b.type === 'text') return { ...b.start, text: b.text };
  if (b.type === 'thinking') return { ...b.start, thinking: b.text };
  if (b.type === 'tool_use') return { ...b.start, input: parseOr(b.json) };
  return b.start;
}

function parseOr(json: string): unknown {
  try {
    return JSON.parse(json || '{}');
  } catch {
    return json;
  }
}

function definedOnly(usage: Usage): Usage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined && v !== null));
}
