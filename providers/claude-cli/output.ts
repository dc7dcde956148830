import type { ProviderEvent, ToolCall } from '../types.js';
import { CLIENT_TOOL_PREFIX } from './args.js';
import { type Json, parseJsonLine } from './json-line.js';

const EXCERPT_BYTES = 4096;

/** A point where the run waits for the client: the model called client functions. */
export interface ToolStop {
  calls: ToolCall[];
  /** What the model said in the same message, before the calls. */
  text: string;
  messageId: string | undefined;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number };
}

/** The API message being streamed: its text and the client calls in it, by content block. */
interface MessageState {
  id: string | undefined;
  text: string;
  usage: ToolStop['usage'];
  calls: Map<number, ToolCall & { index: number }>;
}

const newMessage = (id: string | undefined, usage?: Json): MessageState => ({
  id,
  text: '',
  usage: {
    input_tokens: usage?.input_tokens ?? 0,
    output_tokens: usage?.output_tokens ?? 0,
    cache_read_input_tokens: usage?.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens ?? 0,
  },
  calls: new Map(),
});

/**
 * Reads the CLI's stdout line by line. In stream-json mode each line becomes provider events as it
 * arrives, and the calls of client functions are followed until the message stops for them; in
 * json mode stdout is one object, parsed at the end. Either way the `result` object is kept, and
 * the first bytes of raw output are kept for error messages.
 */
export class CliOutput {
  private head = '';
  private readonly lines: string[] = [];
  private lastTextMessage: string | undefined;
  private message: MessageState = newMessage(undefined);
  result: Json | undefined;
  /** Set when the current message stopped to wait for client calls. */
  toolStop: ToolStop | undefined;
  /** The tools the run has (its `system/init` event), once known. */
  tools: string[] | undefined;
  /** The CLI's last retry delay after an upstream error: it follows the upstream's `retry-after`. */
  retryDelayMs: number | undefined;

  constructor(private readonly streaming: boolean) {}

  push(line: string): ProviderEvent[] {
    if (this.head.length < EXCERPT_BYTES) this.head += `${line}\n`;
    if (!this.streaming) {
      this.lines.push(line);
      // The CLI prints its json result on one line, well before it exits: take it as it comes.
      if (this.lines.length === 1 && line.startsWith('{')) {
        const obj = parseJsonLine(line);
        if (obj?.type === 'result') this.result = obj;
      }
      return [];
    }
    const msg = parseJsonLine(line);
    if (!msg) return [];
    switch (msg.type) {
      case 'stream_event':
        return this.streamEvent(msg);
      case 'assistant':
        return this.blocks(msg, 'tool_use').map((b) => {
          // The complete input: authoritative over the streamed fragments.
          for (const call of this.message.calls.values()) if (call.id === b.id) call.arguments = JSON.stringify(b.input ?? {});
          return { type: 'tool_use', id: b.id, name: b.name, input: b.input };
        });
      case 'user':
        return this.blocks(msg, 'tool_result').map((b) => ({
          type: 'tool_result',
          toolUseId: b.tool_use_id,
          content: b.content,
          isError: b.is_error === true,
        }));
      case 'result':
        this.result = msg;
        return [];
      case 'system':
        if (msg.subtype === 'init' && Array.isArray(msg.tools)) this.tools = msg.tools.map(String);
        if (msg.subtype === 'api_retry' && typeof msg.retry_delay_ms === 'number') this.retryDelayMs = msg.retry_delay_ms;
        return [];
      default:
        return [];
    }
  }

  /** The final result object, once stdout has ended. */
  finish(): Json | undefined {
    if (!this.streaming && !this.result) {
      const text = this.lines.join('\n').trim();
      const obj = text ? parseJsonLine(text) : undefined;
      if (obj?.type === 'result') this.result = obj;
    }
    return this.result;
  }

  excerpt(): string {
    return this.head;
  }

  private streamEvent(msg: Json): ProviderEvent[] {
    // Sub-agent output (parent_tool_use_id set) is tool activity, not the model's answer.
    if (msg.parent_tool_use_id) return [];
    const ev = msg.event ?? {};
    switch (ev.type) {
      case 'message_start':
        this.message = newMessage(ev.message?.id ?? msg.api_message_id, ev.message?.usage);
        return [];
      case 'content_block_start': {
        const block = ev.content_block ?? {};
        if (block.type !== 'tool_use' || !String(block.name).startsWith(CLIENT_TOOL_PREFIX)) return [];
        const index = this.message.calls.size;
        const name = String(block.name).slice(CLIENT_TOOL_PREFIX.length);
        this.message.calls.set(ev.index, { index, id: block.id, name, arguments: '' });
        return [{ type: 'tool_call_start', index, id: block.id, name }];
      }
      case 'content_block_delta':
        return this.delta(msg, ev);
      case 'message_delta':
        if (typeof ev.usage?.output_tokens === 'number') this.message.usage.output_tokens = ev.usage.output_tokens;
        if (ev.delta?.stop_reason === 'tool_use' && this.message.calls.size) {
          this.toolStop = {
            calls: [...this.message.calls.values()].map(({ id, name, arguments: args }) => ({ id, name, arguments: args || '{}' })),
            text: this.message.text,
            messageId: this.message.id,
            usage: { ...this.message.usage },
          };
        }
        return [];
      default:
        return [];
    }
  }

  private delta(msg: Json, ev: Json): ProviderEvent[] {
    if (ev.delta?.type === 'input_json_delta') {
      const call = this.message.calls.get(ev.index);
      if (!call) return [];
      const fragment = String(ev.delta.partial_json ?? '');
      call.arguments += fragment;
      return fragment ? [{ type: 'tool_call_delta', index: call.index, arguments: fragment }] : [];
    }
    if (ev.delta?.type !== 'text_delta') return [];
    const text = String(ev.delta.text ?? '');
    this.message.text += text;
    const id = typeof msg.api_message_id === 'string' ? msg.api_message_id : undefined;
    // Text of a later API message (after a tool round trip) starts a new paragraph.
    const sep = this.lastTextMessage !== undefined && id !== undefined && id !== this.lastTextMessage ? '\n\n' : '';
    if (id !== undefined) this.lastTextMessage = id;
    return text || sep ? [{ type: 'text', text: sep + text }] : [];
  }

  private blocks(msg: Json, type: string): Json[] {
    const content = msg.message?.content;
    return Array.isArray(content) ? content.filter((b: Json) => b?.type === type) : [];
  }
}
