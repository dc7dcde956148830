/**
 * The one interface every provider implements. The process manager and the routes only ever see
 * these types, so a provider can be swapped without touching them. Nothing here (or under
 * providers/) imports the gateway's core: a provider knows neither HTTP nor OpenAI's wire format.
 */
import { z } from 'zod';

// ---------------------------------------------------------------- the request

const textPartSchema = z.object({ type: z.literal('text'), text: z.string() });
/** An image by URL: `https:`, or a `data:` URL holding its bytes. */
const imagePartSchema = z.object({ type: z.literal('image'), url: z.string() });
const contentPartSchema = z.discriminatedUnion('type', [textPartSchema, imagePartSchema]);
export type ContentPart = z.infer<typeof contentPartSchema>;

/** A call the model made of one of the client's functions. */
const toolCallSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The arguments as a JSON string. */
  arguments: z.string(),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

const content = z.array(contentPartSchema);
/** One message of the conversation, in the order the client sent them; system messages may stand anywhere. */
const messageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content }),
  z.object({ role: z.literal('user'), content }),
  z.object({ role: z.literal('assistant'), content, toolCalls: z.array(toolCallSchema) }),
  /** The result of one of the calls of the assistant message before it. */
  z.object({ role: z.literal('tool'), toolCallId: z.string(), content }),
]);
export type Message = z.infer<typeof messageSchema>;

/**
 * A function the model may call. The client runs it, and its calls come back as `toolCalls`; a
 * provider with a built-in tool of that name may take it as asking for that tool instead.
 */
const functionToolSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  /** JSON Schema of the arguments, passed to the model as it is. */
  parameters: z.record(z.string(), z.unknown()),
  /**
   * Always the client's own function, whatever its name: never taken for a provider's built-in tool
   * (an Anthropic Messages client such as Claude Code sends its own `Bash`, and runs it itself).
   */
  clientOnly: z.boolean().optional(),
});
export type FunctionTool = z.infer<typeof functionToolSchema>;

/** Which session a request runs in, as the client asks: the core places it, the provider renders for it. */
const sessionIntentSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('new') }),
  /** The provider keeps the session's transcript: the request's messages repeat it, and add to it. */
  z.object({ kind: z.literal('continue'), sessionId: z.string() }),
  /** A new session that starts from a copy of this one. */
  z.object({ kind: z.literal('fork'), sessionId: z.string() }),
]);

/**
 * A chat completion as any front door asks for it, in no wire format and no provider's terms: the
 * whole conversation as structured messages, the tools and what the model may do with them. Each
 * provider renders it its own way (and refuses, in `prepare`, what it cannot do).
 */
export const chatRequestSchema = z.object({
  /** The provider's own model name (alias or full id), already resolved. */
  model: z.string(),
  /** Every message the client sent, also when continuing a session: the provider picks what it needs. */
  messages: z.array(messageSchema).min(1),
  tools: z.array(functionToolSchema),
  /**
   * Permission rules for the provider's built-in tools, in its own grammar (the Claude CLI's:
   * `Bash`, `Bash(git *)`): an allowed rule also enables its tool; a denied one only restricts.
   */
  permissions: z.object({ allow: z.array(z.string()), deny: z.array(z.string()) }),
  /** `none`: no tools at all; `required`: at least one call; a name: a call of that function now. */
  toolChoice: z.union([z.enum(['auto', 'none', 'required']), z.object({ name: z.string() })]),
  /** Whether the model may make several calls at once (else they surface one at a time). */
  parallelToolCalls: z.boolean(),
  /** Structured output: the answer must be JSON valid against this schema. */
  responseFormat: z.object({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }).optional(),
  /** Hints a provider uses when it can, and ignores when it cannot (the Claude CLI takes none). */
  sampling: z.object({
    temperature: z.number().optional(),
    maxTokens: z.number().optional(),
    stop: z.array(z.string()).optional(),
    reasoningEffort: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
  }),
  session: sessionIntentSchema,
  /** The most the run may spend, in USD (what its key's budget leaves): a provider that can stop a run at a cost does. */
  budgetUsd: z.number().positive().optional(),
  /** Agentic turns the run may take at most. */
  maxTurns: z.number().int().positive().optional(),
  /** The answer is streamed: the provider yields deltas as they come. */
  stream: z.boolean(),
  /**
   * Fields of the client's request the gateway does not interpret, for providers that speak the same
   * wire format (openai-compatible passes them on); the others ignore them.
   */
  passthrough: z.record(z.string(), z.unknown()).optional(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** Where the core runs a prepared request: the session it placed it in. */
export interface RunSession {
  sessionId: string;
  /** true: continue the session (the provider has it); false: start a new one under `sessionId`. */
  resume: boolean;
  /** The session's working directory. */
  cwd: string;
  /**
   * The request's tool results answer the calls the session's run waits for (WaitingRuns): they go
   * to that run, if it still waits, rather than start a new turn.
   */
  answersWaitingRun: boolean;
}

// ---------------------------------------------------------------- the answer

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ProviderResult {
  text: string;
  /** The client calls the run now waits for (finishReason `tool_calls`). */
  toolCalls?: ToolCall[];
  sessionId: string;
  finishReason: FinishReason;
  usage: TokenUsage;
  /** The provider's full native result, returned as `claude_metadata` and logged. */
  raw: Record<string, unknown>;
  /** Time spent in the provider's own process for this run, for the gateway-overhead figure. */
  cliMs?: number;
  /** What this run cost in USD, as the provider knows it; null (or absent) when it does not. */
  costUsd?: number | null;
}

export type ProviderEvent =
  | { type: 'text'; text: string }
  /** A client call being generated: its id and name first, then argument fragments. */
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; arguments: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; toolUseId: string; content: unknown; isError: boolean }
  | { type: 'result'; result: ProviderResult };

/**
 * What went wrong in a provider, in its own terms: the core maps the kind to an HTTP status and
 * error type in one place, so a provider never picks statuses.
 */
export const PROVIDER_ERROR_KINDS = [
  /** The request is one the provider refuses (a schema it cannot take, say); `param` names the field. */
  'invalid_request',
  /** The request is too large for the upstream. */
  'too_large',
  /** Something the request names does not exist (a session, an upstream model). */
  'not_found',
  /** The upstream refused the provider's credentials, or it has none. */
  'auth',
  /** The upstream refused this request for the provider's credentials. */
  'permission',
  'rate_limited',
  'overloaded',
  /** The upstream failed (a 5xx, or a status with no better meaning). */
  'upstream',
  /** The upstream could not be reached. */
  'unreachable',
  'timeout',
  /** The provider's own process answered something unusable, or nothing. */
  'bad_output',
  /** The provider's run was aborted on its side (not by the gateway's signal). */
  'cancelled',
  /** The provider cannot run at all here (its executable is missing or broken, a sandbox it needs). */
  'unavailable',
  /** A file the provider needs could not be written; `cause` holds the errno error. */
  'storage',
] as const;
export type ProviderErrorKind = (typeof PROVIDER_ERROR_KINDS)[number];

/** Kinds a later attempt (or another target) may get past. */
const RETRYABLE_KINDS: ReadonlySet<ProviderErrorKind> = new Set(['rate_limited', 'overloaded', 'upstream', 'unreachable', 'timeout', 'bad_output']);

export interface ProviderErrorOptions {
  /** Stable machine code sent to clients (`session_not_found`, `upstream_rate_limited`…); default: the kind. */
  code?: string;
  /** Default: by kind (rate limits, overloads, upstream failures, timeouts and bad output are). */
  retryable?: boolean;
  /** When a retry may succeed, if the provider knows (the upstream's retry-after). */
  retryAfterMs?: number;
  /** The request field at fault, for `invalid_request` (`response_format.json_schema.schema`). */
  param?: string;
  /** The provider's raw output behind the error (the CLI's result), for the session log. */
  detail?: Record<string, unknown>;
  cause?: unknown;
}

/** The error every provider throws (apart from `signal.reason` once its run is aborted). */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly param?: string;
  readonly detail?: Record<string, unknown>;

  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    opts: ProviderErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code ?? kind;
    this.retryable = opts.retryable ?? RETRYABLE_KINDS.has(kind);
    this.retryAfterMs = opts.retryAfterMs;
    this.param = opts.param;
    this.detail = opts.detail;
  }
}

/** Readiness: usable (with the version it reports), or the error a request would fail with. */
/** Usable (with the version it reports, and what an operator should know: no credentials, say), or not and why. */
export type ProviderHealth = { ok: true; version?: string; warnings?: string[] } | { ok: false; error: ProviderError };

/**
 * Why a run waiting for client calls ended without their results: its process exited, or it was
 * evicted to bound how many runs wait at once.
 */
export type WaitingRunLoss = 'exited' | 'evicted';

export interface ModelInfo {
  id: string;
  ownedBy: string;
}

/** Hands new conversations the session of a process already running (a warm pool). */
export interface SessionReservation<P = unknown> {
  /**
   * A session id for a new conversation of this prepared request in `cwd`, when a process is ready
   * for it; undefined lets the caller pick a fresh one.
   */
  reserveSession(prepared: P, cwd: string): string | undefined;
  /** Gives back a reservation that will not be used. */
  releaseSession(sessionId: string): void;
}

/**
 * Runs that stop at client function calls and wait, inside the provider, for their results. The
 * core decides how each wait ends (answered, abandoned, expired, cancelled); the provider holds the
 * parked run, interrupts it when told, and reports the runs it loses.
 */
export interface WaitingRuns {
  /** Interrupts the run waiting in a session (abandoned, expired or cancelled); its process may stay for the session. */
  cancelWaitingRun(sessionId: string): Promise<void>;
  /** Subscribes to waiting runs that end by themselves, without their results (by session). */
  onWaitingRunLost(listener: (sessionId: string, why: WaitingRunLoss) => void): void;
}

/**
 * Sessions the provider keeps (their transcripts, a process kept for them), which it can let go of.
 * A provider without one is stateless: the gateway keeps its sessions' conversations and sends each
 * turn the whole of it.
 */
export interface SessionStore {
  /**
   * Closes the session's idle process, if one is kept, and removes its stored transcript; a session
   * it does not know is no error. One with a run in progress is the caller's to refuse.
   */
  deleteSession(sessionId: string): Promise<void>;
}

/** Something the provider keeps running between runs (pooled processes). */
export interface Lifecycle {
  /** Starts it, once the gateway's directories exist. */
  start(): void;
  /** Stops it. */
  close(): Promise<void>;
  /** Counts of what runs, for /ready (undefined while there is nothing to count). */
  stats(): Record<string, number> | undefined;
}

/** What a provider may do beyond running completions: absent means it does not. */
export interface ProviderCapabilities<P = unknown> {
  /**
   * The provider retries transient upstream failures itself (the Claude CLI does, bounded by the
   * retry policy it was given): the gateway tries it once per request, then moves on.
   */
  retriesItself?: boolean;
  sessionReservation?: SessionReservation<P>;
  waitingRuns?: WaitingRuns;
  sessionStore?: SessionStore;
  lifecycle?: Lifecycle;
}

/**
 * A provider, with `P` the request as it runs it (its prompt rendered, its tools resolved): opaque to
 * the core, which only hands it back.
 */
export interface Provider<P = unknown> {
  readonly name: string;
  readonly capabilities: ProviderCapabilities<P>;
  /** Models offered on `/v1/models`. */
  models(): ModelInfo[];
  /** Maps a requested model name to the provider's own, or undefined when it is not served. */
  resolveModel(requested: string): string | undefined;
  /**
   * Checks a request and makes it ready to run, before it is queued (its session intent is final):
   * one the provider refuses throws an `invalid_request` ProviderError naming the field.
   */
  prepare(request: ChatRequest): P;
  /**
   * Runs one prepared request in its session. Yields events as they happen and ends with exactly one
   * `result`; failures are thrown as ProviderErrors. When `signal` aborts, the run is stopped and the
   * iterator throws `signal.reason`.
   */
  run(prepared: P, session: RunSession, signal: AbortSignal): AsyncIterable<ProviderEvent>;
  /** Whether a session can be continued (it exists in the provider's own store). */
  hasSession(sessionId: string): Promise<boolean>;
  /** Readiness: is the provider usable at all? Cached by the caller. */
  check(): Promise<ProviderHealth>;
}
