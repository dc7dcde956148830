import { z } from 'zod';
import { openAIErrorSchema } from './errors.js';
import { fromChatCompletion } from '../openai/response.js';
import { chatCompletionSchema } from '../openai/schemas.js';
import { runResultSchema } from './run-types.js';

export const PROCESS_ID = /^proc_[0-9a-f]{32}$/;

export const processStatusSchema = z.enum(['queued', 'running', 'requires_action', 'completed', 'failed', 'cancelled']);
export type ProcessStatus = z.infer<typeof processStatusSchema>;
export const TERMINAL: readonly ProcessStatus[] = ['completed', 'failed', 'cancelled'];

/** Timestamps are Unix seconds (OpenAI's unit) with millisecond precision. */
const unixSeconds = z.number();

/** The id of the API key a process (and its events) belongs to; null without keys, and in records older than owners. */
const keyId = z.string().nullable().default(null);

/**
 * A process's answer as records and events keep it: neutral. Records written before hold the
 * rendered chat.completion instead; they are read back as neutral (and rewritten so at start).
 */
const storedResultSchema = z.union([runResultSchema, chatCompletionSchema.transform(fromChatCompletion)]);

/** What a process waits for: the results of the client function calls in its `result`. */
export const requiredActionSchema = z.object({
  type: z.literal('submit_tool_outputs'),
  tool_call_ids: z.array(z.string()),
  /** When the waiting run is interrupted if no results came (Unix seconds). */
  expires_at: z.number(),
});

export const processRecordSchema = z.object({
  id: z.string(),
  object: z.literal('process'),
  status: processStatusSchema,
  model: z.string(),
  session_id: z.string(),
  created_at: unixSeconds,
  started_at: unixSeconds.nullable(),
  completed_at: unixSeconds.nullable(),
  result: storedResultSchema.nullable(),
  error: openAIErrorSchema.nullable(),
  required_action: requiredActionSchema.nullable().default(null),
  key_id: keyId,
});
export type ProcessRecord = z.infer<typeof processRecordSchema>;

export const eventTypeSchema = z.enum([
  'PROCESS_QUEUED',
  'PROCESS_STARTED',
  'PROCESS_TOOL_USE',
  'PROCESS_TOOL_RESULT',
  'PROCESS_REQUIRES_ACTION',
  'PROCESS_COMPLETE',
]);

/** One message of `/v1/events`, as kept for replay; sent with its `result` rendered (src/openai/records.ts). */
export const gatewayEventSchema = z.object({
  seq: z.number().int(),
  type: eventTypeSchema,
  ts: unixSeconds,
  process_id: z.string(),
  session_id: z.string(),
  status: processStatusSchema,
  model: z.string(),
  result: storedResultSchema.optional(),
  error: openAIErrorSchema.optional(),
  tool_use_id: z.string().optional(),
  name: z.string().optional(),
  input: z.unknown().optional(),
  content: z.unknown().optional(),
  is_error: z.boolean().optional(),
  required_action: requiredActionSchema.optional(),
  key_id: keyId,
});
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

/**
 * What the bus carries: the wire event plus what only in-process subscribers need (the request's
 * messages for the session log, the CLI's raw output on failures). Never sent or persisted as is.
 */
export interface BusEvent extends GatewayEvent {
  internal?: { messages?: unknown[]; claude?: Record<string, unknown> };
}

export const nowSeconds = (): number => Date.now() / 1000;
