import { z } from 'zod';
import { GatewayError, InvalidRequestError } from '../core/errors.js';
import { type GatewayEvent, PROCESS_ID, eventTypeSchema, processStatusSchema } from '../core/process-types.js';
import type { RunResult } from '../core/run-types.js';
import { type EventMessage, toEventMessage } from '../openai/records.js';
import { parseWith } from '../validation.js';

/**
 * The Unix socket's wire format, as pure functions: one JSON object per line each way. Requests
 * `{command, parameters, version?: "2.0", metadata?}`; replies `{status: "success", command, result,
 * metadata: {timestamp}}` or `{status: "error", command, error: {code, message, timestamp}}`; events
 * of a subscription `{type: "event", event_type, payload}`.
 */

export const PROTOCOL_VERSION = '2.0';

export const COMMANDS = ['SPAWN', 'SUBSCRIBE', 'GET_PROCESSES', 'HEALTH_CHECK'] as const;
export type Command = (typeof COMMANDS)[number];

/** The error codes the socket itself answers with; a refusal of the gateway's is its own code, upper-cased. */
export const ERROR_CODES = {
  invalidJson: 'INVALID_JSON',
  invalidRequest: 'INVALID_REQUEST',
  invalidParameters: 'INVALID_PARAMETERS',
  unknownCommand: 'UNKNOWN_COMMAND',
  unauthorized: 'UNAUTHORIZED',
  tooLarge: 'PAYLOAD_TOO_LARGE',
  internal: 'INTERNAL_ERROR',
} as const;

export interface SuccessReply {
  status: 'success';
  command: string;
  result: unknown;
  metadata: { timestamp: string };
}

export interface ErrorReply {
  status: 'error';
  /** The command as the request named it; null when there was none to read (a line that is not JSON). */
  command: string | null;
  error: { code: string; message: string; timestamp: string };
}

export type Reply = SuccessReply | ErrorReply;

export interface EventLine {
  type: 'event';
  event_type: GatewayEvent['type'];
  payload: EventMessage & { agent_id: string | null };
}

const timestamp = (now: Date) => now.toISOString();

export function success(command: string, result: unknown, now = new Date()): SuccessReply {
  return { status: 'success', command, result, metadata: { timestamp: timestamp(now) } };
}

export function failure(command: string | null, code: string, message: string, now = new Date()): ErrorReply {
  return { status: 'error', command, error: { code, message, timestamp: timestamp(now) } };
}

/** One line out: the JSON, then the newline. */
export const serialize = (message: Reply | EventLine): string => `${JSON.stringify(message)}\n`;

// ---------------------------------------------------------------- requests

const requestSchema = z.object({
  command: z.string().min(1).max(64),
  parameters: z.record(z.string(), z.unknown(), { message: 'must be an object' }).default({}),
  version: z.literal(PROTOCOL_VERSION, { message: `must be "${PROTOCOL_VERSION}"` }).optional(),
  metadata: z.record(z.string(), z.unknown(), { message: 'must be an object' }).optional(),
});
export type SocketRequest = z.infer<typeof requestSchema>;

/** A line read as a request, or the error reply it gets. */
export type ParsedLine = { ok: true; request: SocketRequest } | { ok: false; reply: ErrorReply };

/** Reads one line: not JSON is INVALID_JSON; JSON that is not a request is INVALID_REQUEST, naming the field. */
export function parseLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, reply: failure(null, ERROR_CODES.invalidJson, `the line is not JSON: ${(err as Error).message}`) };
  }
  try {
    return { ok: true, request: parseWith(requestSchema, value, 'request') };
  } catch (err) {
    const named = (value as { command?: unknown } | null)?.command;
    const message = err instanceof GatewayError ? err.message : String(err);
    return { ok: false, reply: failure(typeof named === 'string' ? named : null, ERROR_CODES.invalidRequest, message) };
  }
}

export const isCommand = (command: string): command is Command => (COMMANDS as readonly string[]).includes(command);

/** The key a request presents: `metadata.api_key`, else `parameters.api_key`. */
export function presentedKey(request: SocketRequest): string | undefined {
  const key = request.metadata?.api_key ?? request.parameters.api_key;
  return typeof key === 'string' && key ? key : undefined;
}

export const spawnParametersSchema = z.object({
  mode: z.enum(['sync', 'async']),
  type: z.literal('claude'),
  prompt: z.string().min(1, 'must not be empty'),
  session_id: z.uuid({ message: 'must be a UUID' }).nullish(),
  model: z.string().min(1).max(200).default('sonnet'),
  agent_id: z.string().min(1).max(200).nullish(),
  enable_tools: z.boolean().default(false),
});
export type SpawnParameters = z.infer<typeof spawnParametersSchema>;

export const subscribeParametersSchema = z.object({
  event_types: z.array(eventTypeSchema).min(1, 'must name at least one event type'),
  agent_id: z.string().min(1).max(200).nullish(),
});
export type SubscribeParameters = z.infer<typeof subscribeParametersSchema>;

export const getProcessesParametersSchema = z.object({
  status: processStatusSchema.optional(),
  session_id: z.uuid({ message: 'must be a UUID' }).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  after: z.string().regex(PROCESS_ID, 'must be a process id').optional(),
});
export type GetProcessesParameters = z.infer<typeof getProcessesParametersSchema>;

/** A command's parameters, validated; a bad one throws a 400 naming it (INVALID_PARAMETERS on the wire). */
export function parseParameters<S extends z.ZodType>(schema: S, parameters: Record<string, unknown>): z.infer<S> {
  const parsed = schema.safeParse(parameters);
  if (parsed.success) return parsed.data;
  // An absent parameter is said to be required, whatever its type (zod's enum and literal messages do not say so).
  const name = parsed.error.issues[0]!.path[0];
  if (typeof name === 'string' && parameters[name] === undefined) {
    throw new InvalidRequestError(`'${name}' is required`, name, 'missing_required_parameter');
  }
  return parseWith(schema, parameters, 'parameters');
}

// ---------------------------------------------------------------- errors

/** Codes of errors without one of their own, by HTTP status. */
const BY_STATUS: Record<number, string> = {
  401: ERROR_CODES.unauthorized,
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: ERROR_CODES.tooLarge,
  429: 'RATE_LIMITED',
  502: 'BAD_GATEWAY',
  503: 'UNAVAILABLE',
  504: 'TIMEOUT',
};

/**
 * The code a gateway refusal gets: every 400 is INVALID_PARAMETERS (its message names the
 * parameter), every 401 UNAUTHORIZED; others their own code upper-cased (SESSION_NOT_FOUND, QUEUE_FULL, MODEL_NOT_FOUND,
 * CLIENT_DISCONNECTED, DEADLINE_EXCEEDED…), else one by their status.
 */
export function errorCode(err: GatewayError): string {
  if (err.status === 400) return ERROR_CODES.invalidParameters;
  if (err.status === 401) return ERROR_CODES.unauthorized;
  if (err.code) return err.code.toUpperCase();
  return BY_STATUS[err.status] ?? ERROR_CODES.internal;
}

export function errorReply(command: string | null, err: GatewayError): ErrorReply {
  return failure(command, errorCode(err), err.message);
}

// ---------------------------------------------------------------- results

/**
 * What a sync SPAWN answers: the CLI's own result object (`type`, `subtype`, `result`,
 * `session_id`, `total_cost_usd`, `usage`…) as the claude-cli provider keeps it, or, from another
 * provider, one of the same shape built from the answer; with the gateway's `process_id` and
 * `session_id` (the one to continue).
 */
export function spawnResult(result: RunResult, costUsd: number | null): Record<string, unknown> {
  const raw = result.raw;
  const native = raw.type === 'result' && typeof raw.subtype === 'string';
  const base = native
    ? raw
    : {
        type: 'result',
        subtype: 'success',
        is_error: false,
        result: result.text,
        session_id: result.sessionId,
        stop_reason: result.finishReason === 'length' ? 'max_tokens' : 'end_turn',
        total_cost_usd: costUsd,
        usage: {
          input_tokens: result.usage.inputTokens,
          output_tokens: result.usage.outputTokens,
          cache_read_input_tokens: result.usage.cacheReadTokens,
          cache_creation_input_tokens: result.usage.cacheCreationTokens,
        },
        model: result.model,
      };
  return { ...base, session_id: result.sessionId, process_id: result.processId };
}

export function asyncSpawnResult(processId: string) {
  return { process_id: processId, status: 'started' as const, type: 'claude' as const, mode: 'async' as const };
}

/** An event of a subscription: the WebSocket's event message, with the agent id of its process (null: none). */
export function eventLine(event: GatewayEvent, agentId: string | null): EventLine {
  return { type: 'event', event_type: event.type, payload: { ...toEventMessage(event), agent_id: agentId } };
}
