import type { RunEvent } from '../core/run-types.js';
import { type FunctionCallItem, type MessageItem, type OutputItem, type ResponseObject, functionCallItem, messageItem } from './response.js';

/** One event of a Responses stream: `event: <type>` and `data: {type, sequence_number, …}`. */
export type ResponseStreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;

/** An item the stream has opened: where it is, and what went out of it so far. */
type Open = { index: number; item: MessageItem; text: string } | { index: number; item: FunctionCallItem };

/**
 * Maps one response's run to the typed events of the Responses API, numbered from 0, as the
 * official SDK's `responses.stream()` accumulates them: `response.created` and `.in_progress`,
 * each output item added, its text or arguments in deltas, done, then `response.completed`
 * (`.incomplete`, or `error` and `response.failed`) with the whole response.
 *
 * Items open as the run streams them (its text as one message, each function call as it starts)
 * and are closed at the end with the answer as recorded; what the run did not stream (a replay,
 * calls handed out one at a time) goes out whole then, its text in one delta. So a replay of a
 * finished response is `start` then `finish`, with the same numbers as the live stream up to its
 * first item. Pure but for what it remembers of the stream so far.
 */
export class ResponseEventStream {
  private seq = 0;
  /** Items in output order. */
  private readonly items: Open[] = [];
  /** The provider's index of a call being streamed → its item. */
  private readonly callsByIndex = new Map<number, Extract<Open, { item: FunctionCallItem }>>();

  constructor(private readonly completionId: string) {}

  /** `response.created` and `response.in_progress`, with the response as it starts (whatever state `response` is in now). */
  start(response: ResponseObject): ResponseStreamEvent[] {
    const started = { ...response, output: [], usage: null, error: null, incomplete_details: null, completed_at: null };
    return [
      this.event('response.created', { response: { ...started, status: response.status === 'queued' ? 'queued' : 'in_progress' } }),
      this.event('response.in_progress', { response: { ...started, status: 'in_progress' } }),
    ];
  }

  /** The events a run event adds (none for those clients do not see, and for the outcome: see `finish`). */
  push(event: RunEvent): ResponseStreamEvent[] {
    switch (event.type) {
      case 'text': {
        const out: ResponseStreamEvent[] = [];
        let message = this.message();
        if (!message) {
          message = { index: this.items.length, item: messageItem(this.completionId, '', 'in_progress'), text: '' };
          out.push(...this.openMessage(message));
        }
        message.text += event.text;
        out.push(this.event('response.output_text.delta', { ...this.at(message), content_index: 0, delta: event.text, logprobs: [] }));
        return out;
      }
      case 'tool_call_start': {
        const call = { index: this.items.length, item: functionCallItem({ id: event.id, name: event.name, arguments: '' }, 'in_progress') };
        this.callsByIndex.set(event.index, call);
        return this.openCall(call);
      }
      case 'tool_call_delta': {
        const call = this.callsByIndex.get(event.index);
        if (!call) return [];
        call.item.arguments += event.arguments;
        return [this.event('response.function_call_arguments.delta', { ...this.at(call), delta: event.arguments })];
      }
      default:
        return [];
    }
  }

  /**
   * The end, with the response as recorded: the open items closed with their final text and
   * arguments, the answer's other items whole, then the terminal event. A failed or cancelled
   * response ends with `error` and `response.failed`.
   */
  finish(response: ResponseObject): ResponseStreamEvent[] {
    if (response.status === 'failed' || response.status === 'cancelled') {
      const error = response.error ?? { code: 'cancelled', message: 'the response was cancelled' };
      return [this.event('error', { code: error.code, message: error.message, param: null }), this.event('response.failed', { response })];
    }
    const out: ResponseStreamEvent[] = [];
    const final = new Map(response.output.map((item) => [item.id, item]));
    for (const open of this.items) out.push(...this.close(open, final.get(open.item.id)));
    for (const item of response.output) {
      if (this.items.some((o) => o.item.id === item.id)) continue;
      const open: Open =
        item.type === 'message'
          ? { index: this.items.length, item: { ...item, status: 'in_progress', content: [] }, text: '' }
          : { index: this.items.length, item: { ...item, status: 'in_progress', arguments: '' } };
      if (open.item.type === 'message') out.push(...this.openMessage(open as Extract<Open, { text: string }>));
      else out.push(...this.openCall(open as Extract<Open, { item: FunctionCallItem }>));
      const text = item.type === 'message' ? (item.content[0]?.text ?? '') : item.arguments;
      if (text && item.type === 'message') out.push(this.event('response.output_text.delta', { ...this.at(open), content_index: 0, delta: text, logprobs: [] }));
      if (text && item.type === 'function_call') out.push(this.event('response.function_call_arguments.delta', { ...this.at(open), delta: text }));
      out.push(...this.close(open, item));
    }
    const output = this.items.map((o) => o.item);
    const type = response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return [...out, this.event(type, { response: { ...response, output } })];
  }

  private message(): Extract<Open, { text: string }> | undefined {
    return this.items.find((o): o is Extract<Open, { text: string }> => o.item.type === 'message');
  }

  private openMessage(open: Extract<Open, { text: string }>): ResponseStreamEvent[] {
    this.items.push(open);
    return [
      this.event('response.output_item.added', { output_index: open.index, item: { ...open.item, content: [] } }),
      this.event('response.content_part.added', { ...this.at(open), content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ];
  }

  private openCall(open: Extract<Open, { item: FunctionCallItem }>): ResponseStreamEvent[] {
    this.items.push(open);
    return [this.event('response.output_item.added', { output_index: open.index, item: { ...open.item } })];
  }

  /** The done events of an item, with what the recorded answer says of it (what was streamed when it says nothing). */
  private close(open: Open, final: OutputItem | undefined): ResponseStreamEvent[] {
    if (open.item.type === 'message') {
      const recorded = final?.type === 'message' ? final : undefined;
      const text = recorded ? (recorded.content[0]?.text ?? '') : (open as Extract<Open, { text: string }>).text;
      const part = { type: 'output_text', text, annotations: [] };
      open.item = { ...open.item, status: recorded?.status ?? 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
      return [
        this.event('response.output_text.done', { ...this.at(open), content_index: 0, text, logprobs: [] }),
        this.event('response.content_part.done', { ...this.at(open), content_index: 0, part }),
        this.event('response.output_item.done', { output_index: open.index, item: open.item }),
      ];
    }
    const recorded = final?.type === 'function_call' ? final : undefined;
    open.item = { ...open.item, arguments: recorded?.arguments ?? open.item.arguments, status: 'completed' };
    return [
      this.event('response.function_call_arguments.done', { ...this.at(open), name: open.item.name, arguments: open.item.arguments }),
      this.event('response.output_item.done', { output_index: open.index, item: open.item }),
    ];
  }

  private at(open: Open) {
    return { item_id: open.item.id, output_index: open.index };
  }

  private event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }
}
