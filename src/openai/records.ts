import { type AnswerEvent, type GatewayEvent, type ProcessRecord, carriesResult } from '../core/process-types.js';
import { toChatCompletion } from './response.js';
import type { ChatCompletion } from './schemas.js';

/** A process as clients see it: its answer, once there, is the `chat.completion`. */
export type ProcessObject = Omit<ProcessRecord, 'result'> & { result: ChatCompletion | null };

/** An event of `/v1/events` as clients see it: `result`, where it has one, is the `chat.completion`. */
export type EventMessage = Exclude<GatewayEvent, AnswerEvent> | Rendered<AnswerEvent>;
type Rendered<E> = E extends AnswerEvent ? Omit<E, 'result'> & { result?: ChatCompletion } : never;

// Spread, then replaced: every other field (and the field order) stays as it is.
export function toProcessObject(record: ProcessRecord): ProcessObject {
  return { ...record, result: record.result && toChatCompletion(record.result) };
}

export function toEventMessage(event: GatewayEvent): EventMessage {
  if (!carriesResult(event)) return event;
  return { ...event, result: event.result && toChatCompletion(event.result) };
}
