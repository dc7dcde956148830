/**
 * The one interface every provider implements. The process manager and the routes only ever see
 * these types, so a provider can be swapped without touching them. Nothing here (or under
 * providers/) imports the gateway's core: a provider knows neither HTTP nor OpenAI's wire format.
 */

export interface ToolPolicy {
  /** Claude Code tools the run may use at all (`--tools`); empty means none. */
  tools: string[];
  /** Permission rules granted without asking (`--allowedTools`), e.g. `Bash(git *)`. */
  allowed: string[];
  /** Permission rules always refused (`--disallowedTools`). */
  disallowed: string[];
}

/** A function the client defines and runs itself (OpenAI function calling). */
export interface ClientTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments, passed to the model as it is. */
  parameters: Record<string, unknown>;
}

export interface ToolResult {
  toolCallId: string;
  content: string;
}

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as a JSON string. */
  arguments: string;
}

export interface ProviderRequest {
  /** The provider's own model name (alias or full id), already validated. */
  model: string;
  /** What the model is asked now: the new user turn(s), or a rendered history on a first turn. */
  prompt: string;
  systemPrompt?: string;
  sessionId: string;
  /** true: continue `sessionId`; false: start a new session under that id. */
  resume: boolean;
  maxTurns?: number;
  toolPolicy: ToolPolicy;
  /** Client functions exposed to the model; its calls come back as `tool_calls`. */
  clientTools: ClientTool[];
  /** Surface one client call at a time (`parallel_tool_calls: false`). */
  parallelToolCalls: boolean;
  /** Structured output: the answer must be JSON valid against this schema. */
  jsonSchema?: Record<string, unknown>;
  /** Results for a run waiting on client calls: it continues instead of taking a new prompt. */
  toolResults?: ToolResult[];
  stream: boolean;
  cwd: string;
}

/** What a session's process is started with, apart from the session itself. */
export type SessionSettings = Pick<
  ProviderRequest,
  'model' | 'systemPrompt' | 'toolPolicy' | 'maxTurns' | 'cwd' | 'clientTools' | 'parallelToolCalls' | 'jsonSchema'
>;

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
export type ProviderHealth = { ok: true; version?: string } | { ok: false; error: ProviderError };

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
export interface SessionReservation {
  /**
   * A session id for a new conversation with these settings, when a process is ready for it;
   * undefined lets the caller pick a fresh one.
   */
  reserveSession(settings: SessionSettings): string | undefined;
  /** Gives back a reservation that will not be used. */
  releaseSession(sessionId: string): void;
}

/** Runs that stop at client function calls and wait, inside the provider, for their results. */
export interface WaitingRuns {
  /** The session whose run waits for these client calls, if one does. */
  findWaitingRun(toolCallIds: string[]): string | undefined;
  /** Interrupts a run that waits for client calls (expired or cancelled). */
  cancelWaitingRun(sessionId: string): Promise<void>;
  /** Subscribes to waiting runs that end by themselves, without their results (by session). */
  onWaitingRunLost(listener: (sessionId: string, why: WaitingRunLoss) => void): void;
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

/** Structured output with schemas checked (and adapted) before anything runs. */
export interface StructuredOutput {
  /**
   * A schema as the provider takes it (adapted where clients send what it does not know); throws an
   * `invalid_request` ProviderError for one it would refuse.
   */
  prepareJsonSchema(schema: Record<string, unknown>): Record<string, unknown>;
}

/** What a provider may do beyond running completions: absent means it does not. */
export interface ProviderCapabilities {
  sessionReservation?: SessionReservation;
  waitingRuns?: WaitingRuns;
  lifecycle?: Lifecycle;
  structuredOutput?: StructuredOutput;
}

export interface Provider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  /** Models offered on `/v1/models`. */
  models(): ModelInfo[];
  /** Maps a requested model name to the provider's own, or undefined when it is not served. */
  resolveModel(requested: string): string | undefined;
  /**
   * Runs one completion. Yields events as they happen and ends with exactly one `result`;
   * failures are thrown as ProviderErrors. When `signal` aborts, the run is stopped and the
   * iterator throws `signal.reason`.
   */
  run(request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent>;
  /** Whether a session can be continued (it exists in the provider's own store). */
  hasSession(sessionId: string): Promise<boolean>;
  /** Readiness: is the provider usable at all? Cached by the caller. */
  check(): Promise<ProviderHealth>;
}
