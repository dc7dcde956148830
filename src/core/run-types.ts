import { z } from 'zod';
import type { ChatRequest, ProviderEvent } from '../../providers/types.js';
import type { GatewayError } from './errors.js';
import type { Principal } from './ownership.js';

/** A completion as a front door asks for it; the core picks its session and working directory. */
export interface Job {
  /** The model name as the client asked for it. */
  model: string;
  /** The request's messages as the client sent them, for the session log. */
  messages: unknown[];
  /** What the provider is asked, the session intent included. */
  request: ChatRequest;
  /**
   * What the front door keeps with the process, opaque to the core (a Responses API request's
   * instructions and input, a socket client's agent id): on the record as `meta`.
   */
  meta?: Record<string, unknown>;
}

/** A job with its submitter: the process is its key's, and it may continue only the sessions that key can see. */
export interface CompletionJob extends Job {
  owner: Principal;
}

const tokenUsageSchema = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadTokens: z.number(),
  cacheCreationTokens: z.number(),
});

/**
 * A run's answer as the gateway keeps it (process records, events): the provider's result and the
 * ids of the answer, in no front door's format. Front doors render it at the edge.
 */
export const runResultSchema = z.object({
  /** The answer's own id, 32 hex digits (OpenAI shows it as `chatcmpl-<id>`). */
  completionId: z.string(),
  /** When the answer was asked for, in whole Unix seconds. */
  created: z.number(),
  /** The model name as the client asked for it. */
  model: z.string(),
  processId: z.string(),
  sessionId: z.string(),
  text: z.string(),
  /** The client calls the run waits for (finishReason `tool_calls`). */
  toolCalls: z.array(z.object({ id: z.string(), name: z.string(), arguments: z.string() })).optional(),
  finishReason: z.enum(['stop', 'length', 'tool_calls']),
  usage: tokenUsageSchema,
  /** The provider's full native result. */
  raw: z.record(z.string(), z.unknown()),
});
export type RunResult = z.infer<typeof runResultSchema>;

/** The ids an answer carries before its result exists (a stream's chunks). */
export type RunIds = Pick<RunResult, 'completionId' | 'created' | 'model' | 'processId'>;

/** How a run ended for the one who submitted it. */
export interface Outcome {
  /** The answer: there unless `error` is (also when the run now waits for client calls). */
  result?: RunResult;
  error?: GatewayError;
  /** Time spent in the provider (the CLI) for this run, when it got that far. */
  cliMs?: number;
}

/** What a run's handle yields: the provider's events as they happen, then the outcome, last. */
export type RunEvent = Exclude<ProviderEvent, { type: 'result' }> | { type: 'outcome'; outcome: Outcome };
