import type { ProviderEvent } from '../types.js';

const EXCERPT_BYTES = 4096;

type Json = Record<string, any>;

function parseLine(line: string): Json | undefined {
  try {
    const v = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the CLI's stdout line by line. In stream-json mode each line becomes provider events as it
 * arrives; in json mode stdout is one object, parsed at the end. Either way the `result` object is
 * kept, and the first bytes of raw output are kept for error messages.
 */
export class CliOutput {
  private head = '';
  private readonly lines: string[] = [];
  private lastTextMessage: string | undefined;
  result: Json | undefined;

  constructor(private readonly streaming: boolean) {}

  push(line: string): ProviderEvent[] {
    if (this.head.length < EXCERPT_BYTES) this.head += `${line}\n`;
    if (!this.streaming) {
      this.lines.push(line);
      return [];
    }
    const msg = parseLine(line);
    if (!msg) return [];
    switch (msg.type) {
      case 'stream_event':
        return this.streamEvent(msg);
      case 'assistant':
        return this.blocks(msg, 'tool_use').map((b) => ({ type: 'tool_use', id: b.id, name: b.name, input: b.input }));
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
      default:
        return [];
    }
  }

  /** The final result object, once stdout has ended. */
  finish(): Json | undefined {
    if (!this.streaming && !this.result) {
      const text = this.lines.join('\n').trim();
      const obj = text ? parseLine(text) : undefined;
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
    const ev = msg.event;
    if (ev?.type !== 'content_block_delta' || ev.delta?.type !== 'text_delta') return [];
    const text = String(ev.delta.text ?? '');
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
