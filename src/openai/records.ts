import type { GatewayEvent, ProcessRecord } from '../core/process-types.js';
import { toChatCompletion } from './response.js';
import type { ChatCompletion } from './schemas.js';

/** A process as clients see it: its answer, once there, is the `chat.completion`. */
export type ProcessObject = Omit<ProcessRecord, 'result'> & { result: ChatCompletion | null };

/** An event of `/v1/events` as clients see it: `result`, where it has one, is the `chat.completion`. */
export type EventMessage = Omit<GatewayEvent, 'result'> & { result?: ChatCompletion };

// Spread, then replaced: every other field (and the field order) stays as it is.
export function toProcessObject(record: ProcessRecord): ProcessObject {
  return { ...record, result: record.result && toChatCompletion(record.result) };
}

export function toEventMessage(event: GatewayEvent): EventMessage {
  return { ...event, result: event.result && toChatCompletion(event.result) };
}
