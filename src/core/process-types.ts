import { z } from 'zod';
import { CancelledError, type GatewayError, openAIErrorSchema } from './errors.js';
import { runResultSchema } from './run-types.js';

export const PROCESS_ID = /^proc_[0-9a-f]{32}$/;

export const processStatusSchema = z.enum(['queued', 'running', 'requires_action', 'completed', 'failed', 'cancelled']);
export type ProcessStatus = z.infer<typeof processStatusSchema>;
const terminalStatusSchema = z.enum(['completed', 'failed', 'cancelled']);
type TerminalStatus = z.infer<typeof terminalStatusSchema>;
export const TERMINAL: readonly ProcessStatus[] = terminalStatusSchema.options;

/** Timestamps are Unix seconds (OpenAI's unit) with millisecond precision. */
const unixSeconds = z.number();

/** The id of the API key a process (and its events) belongs to; null without keys, and in records older than owners. */
const keyId = z.string().nullable().default(null);

/** What a process waits for: the results of the client function calls in its `result`. */
export const requiredActionSchema = z.object({
  type: z.literal('submit_tool_outputs'),
  tool_call_ids: z.array(z.string()),
  /** When the waiting run is interrupted if no results came (Unix seconds). */
  expires_at: z.number(),
});

/** One target's try at the process: `<provider>/<its model name>`, and the error it failed with. */
export const attemptSchema = z.object({ target: z.string(), error: openAIErrorSchema.optional() });
export type Attempt = z.infer<typeof attemptSchema>;

export const processRecordSchema = z.object({
  id: z.string(),
  object: z.literal('process'),
  status: processStatusSchema,
  model: z.string(),
  session_id: z.string(),
  created_at: unixSeconds,
  started_at: unixSeconds.nullable(),
  completed_at: unixSeconds.nullable(),
  result: runResultSchema.nullable(),
  error: openAIErrorSchema.nullable(),
  required_action: requiredActionSchema.nullable().default(null),
  key_id: keyId,
  /** Defaults: records written before attribution and cost. */
  attempts: z.array(attemptSchema).default([]),
  /** USD, once finished; null before, and when the price is unknown. */
  cost_usd: z.number().nullable().default(null),
  /** What the front door that made it keeps with it (Job.meta); null for none. */
  meta: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type ProcessRecord = z.infer<typeof processRecordSchema>;

export const eventTypeSchema = z.enum([
  'PROCESS_QUEUED',
  'PROCESS_STARTED',
  'PROCESS_RETRY',
  'PROCESS_TOOL_USE',
  'PROCESS_TOOL_RESULT',
  'PROCESS_REQUIRES_ACTION',
  'PROCESS_COMPLETE',
]);
export type EventType = z.infer<typeof eventTypeSchema>;

/**
 * One type of event: the fields every event has around its own. Their order is the order replayed
 * events are written in (parsing follows the schema), kept as it was before events had one schema each.
 */
function eventSchema<T extends EventType, S extends z.ZodType, F extends z.ZodRawShape>(type: T, status: S, fields: F) {
  return z.object({
    seq: z.number().int(),
    type: z.literal(type),
    ts: unixSeconds,
    process_id: z.string(),
    session_id: z.string(),
    status,
    model: z.string(),
    ...fields,
    key_id: keyId,
  });
}

/**
 * One message of `/v1/events`, as kept for replay; sent with its `result` rendered (src/openai/records.ts).
 * `result` is optional where it is carried: the event log leaves it to the process record.
 */
export const gatewayEventSchema = z.discriminatedUnion('type', [
  eventSchema('PROCESS_QUEUED', z.literal('queued'), {}),
  eventSchema('PROCESS_STARTED', z.literal('running'), {}),
  /** A try failed and another follows: the same target after `delay_ms`, or the next one. */
  eventSchema('PROCESS_RETRY', z.literal('running'), {
    target: z.string(),
    error: openAIErrorSchema,
    next_target: z.string(),
    delay_ms: z.number(),
  }),
  eventSchema('PROCESS_TOOL_USE', z.literal('running'), { tool_use_id: z.string(), name: z.string(), input: z.unknown().optional() }),
  eventSchema('PROCESS_TOOL_RESULT', z.literal('running'), { tool_use_id: z.string(), content: z.unknown().optional(), is_error: z.boolean() }),
  eventSchema('PROCESS_REQUIRES_ACTION', z.literal('requires_action'), { result: runResultSchema.optional(), required_action: requiredActionSchema }),
  eventSchema('PROCESS_COMPLETE', terminalStatusSchema, { result: runResultSchema.optional(), error: openAIErrorSchema.optional() }),
]);
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;
export type EventOf<T extends EventType> = Extract<GatewayEvent, { type: T }>;

/** The events that carry the process's answer (when it has one). */
export type AnswerEvent = EventOf<'PROCESS_COMPLETE' | 'PROCESS_REQUIRES_ACTION'>;
export function carriesResult(e: GatewayEvent): e is AnswerEvent {
  return e.type === 'PROCESS_COMPLETE' || e.type === 'PROCESS_REQUIRES_ACTION';
}

/**
 * What the bus carries: the wire event plus what only in-process subscribers need (the request's
 * messages for the session log, the CLI's raw output on failures, the process record the event
 * leads to and what only that record keeps). Never sent or persisted as is.
 */
export type BusEvent = GatewayEvent & {
  internal?: {
    messages?: unknown[];
    claude?: Record<string, unknown>;
    record?: ProcessRecord;
    /** The target a queued process is given (`<provider>/<model>`). */
    target?: string;
    /** The front door's own data kept on the record (Job.meta). */
    meta?: Record<string, unknown>;
    /** What the run cost, as its provider reported it (null: unknown). */
    costUsd?: number | null;
  };
};

/** An event as its publisher makes it: the bus numbers it (`seq`). */
export type NewEvent = Unsequenced<BusEvent>;
/** Omitted member by member, so that `type` still narrows. */
type Unsequenced<E> = E extends unknown ? Omit<E, 'seq'> : never;
export type NewEventOf<T extends EventType> = Extract<NewEvent, { type: T }>;

/** The status a process ends in: completed without an error, else cancelled or failed by its kind. */
export function terminalStatus(error?: GatewayError): TerminalStatus {
  if (!error) return 'completed';
  return error instanceof CancelledError ? 'cancelled' : 'failed';
}

export const nowSeconds = (): number => Date.now() / 1000;
