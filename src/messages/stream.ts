import type { GatewayError } from '../core/errors.js';
import type { Outcome, RunEvent, RunIds, RunResult } from '../core/run-types.js';
import { toAnthropicError } from './errors.js';
import { messageId, stopReasonOf, toMessageUsage } from './response.js';
import type { Message } from './schemas.js';

/** One server-sent event of a Messages API stream: `event: <type>` and its JSON `data:` (which repeats the type). */
export interface StreamEvent {
  event: string;
  data: { type: string } & Record<string, unknown>;
}

const ev = (type: string, fields: Record<string, unknown> = {}): StreamEvent => ({ event: type, data: { type, ...fields } });

/**
 * Maps one run's events to the Messages API's stream: `message_start`, `ping`, then content blocks
 * (`content_block_start`, deltas, `content_block_stop`), text and tool calls each in its own block,
 * then `message_delta` with the stop reason and usage, and `message_stop`. Pure but for what it
 * remembers of the stream so far: the block open now, and which tool calls were streamed.
 */
export class MessageStream {
  /** Index of the next block. */
  private next = 0;
  private open: { kind: 'text' } | { kind: 'tool'; callIndex: number } | undefined;
  private readonly streamedCalls = new Set<string>();
  private textSent = false;

  constructor(private readonly ids: RunIds) {}

  /** The first events: the message with no content yet (its usage comes with `message_delta`), and a ping. */
  start(sessionId: string): StreamEvent[] {
    const message: Message = {
      id: messageId(this.ids.completionId),
      type: 'message',
      role: 'assistant',
      model: this.ids.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
      session_id: sessionId,
      process_id: this.ids.processId,
    };
    return [ev('message_start', { message }), ev('ping')];
  }

  /** The events a run event adds to the stream (none for events clients do not see). */
  push(event: RunEvent): StreamEvent[] {
    switch (event.type) {
      case 'text': {
        if (!event.text) return [];
        this.textSent = true;
        const opening = this.open?.kind === 'text' ? [] : this.openBlock({ kind: 'text' }, { type: 'text', text: '' });
        return [...opening, this.delta({ type: 'text_delta', text: event.text })];
      }
      case 'tool_call_start':
        this.streamedCalls.add(event.id);
        return this.openBlock({ kind: 'tool', callIndex: event.index }, { type: 'tool_use', id: event.id, name: event.name, input: {} });
      case 'tool_call_delta':
        // A fragment of the call being generated; one of another call (never seen from the providers) would be out of place.
        if (this.open?.kind !== 'tool' || this.open.callIndex !== event.index || !event.arguments) return [];
        return [this.delta({ type: 'input_json_delta', partial_json: event.arguments })];
      case 'outcome':
        return this.end(event.outcome);
      default:
        return [];
    }
  }

  /** An error as the stream's last event. */
  static error(err: GatewayError): StreamEvent {
    const body = toAnthropicError(err);
    return ev('error', { error: body.error });
  }

  private end({ result, error }: Outcome): StreamEvent[] {
    if (!result) return [MessageStream.error(error!)];
    const out = this.close();
    // An answer whose text came whole (a cached one), and calls handed out without having been streamed.
    if (!this.textSent && result.text) {
      out.push(...this.openBlock({ kind: 'text' }, { type: 'text', text: '' }), this.delta({ type: 'text_delta', text: result.text }), ...this.close());
    }
    for (const [i, c] of (result.toolCalls ?? []).entries()) {
      if (this.streamedCalls.has(c.id)) continue;
      out.push(...this.openBlock({ kind: 'tool', callIndex: i }, { type: 'tool_use', id: c.id, name: c.name, input: {} }));
      if (c.arguments) out.push(this.delta({ type: 'input_json_delta', partial_json: c.arguments }));
      out.push(...this.close());
    }
    return [...out, this.messageDelta(result), ev('message_stop')];
  }

  private messageDelta(result: RunResult): StreamEvent {
    return ev('message_delta', {
      delta: { stop_reason: stopReasonOf(result.finishReason), stop_sequence: null },
      usage: toMessageUsage(result.usage),
    });
  }

  private openBlock(open: NonNullable<MessageStream['open']>, block: Record<string, unknown>): StreamEvent[] {
    const closing = this.close();
    this.open = open;
    return [...closing, ev('content_block_start', { index: this.next, content_block: block })];
  }

  private delta(delta: Record<string, unknown>): StreamEvent {
    return ev('content_block_delta', { index: this.next, delta });
  }

  private close(): StreamEvent[] {
    if (!this.open) return [];
    this.open = undefined;
    return [ev('content_block_stop', { index: this.next++ })];
  }
}
