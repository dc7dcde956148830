/**
 * The one interface every provider implements. The process manager and the routes only ever see
 * these types, so a provider can be swapped without touching them.
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

export interface ProviderHealth {
  ok: boolean;
  version?: string;
  reason?: string;
  /** Why it is not ok, as an error code: the executable is missing, or it does not work. */
  code?: 'claude_not_found' | 'claude_unusable';
}

/**
 * Why a run waiting for client calls ended without their results: its process exited, or it was
 * evicted to bound how many runs wait at once.
 */
export type WaitingRunLoss = 'exited' | 'evicted';

export interface ModelInfo {
  id: string;
  ownedBy: string;
}

export interface Provider {
  readonly name: string;
  /** Models offered on `/v1/models`. */
  models(): ModelInfo[];
  /** Maps a requested model name to the provider's own, or undefined when it is not served. */
  resolveModel(requested: string): string | undefined;
  /**
   * Runs one completion. Yields events as they happen and ends with exactly one `result`;
   * failures are thrown as GatewayErrors. When `signal` aborts, the run is stopped and the
   * iterator throws `signal.reason`.
   */
  run(request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent>;
  /**
   * A session id for a new conversation with this request's settings, when the provider has a
   * process ready for it (its warm pool); undefined lets the caller pick a fresh one.
   */
  reserveSession?(settings: SessionSettings): string | undefined;
  /** Gives back a reservation that will not be used. */
  releaseSession?(sessionId: string): void;
  /**
   * A structured-output schema as the provider takes it (adapted where clients send what it does not
   * know); throws a 400 GatewayError for one it would refuse, before anything runs.
   */
  prepareJsonSchema?(schema: Record<string, unknown>): Record<string, unknown>;
  /** Counts of what the provider keeps running, for /ready (undefined when it keeps nothing). */
  stats?(): Record<string, number> | undefined;
  /** Starts what the provider keeps running (pooled processes), once its directories exist. */
  start?(): void;
  /** Stops whatever the provider keeps running (pooled processes). */
  close?(): Promise<void>;
  /** The session whose run waits for these client calls, if one does. */
  findWaitingRun?(toolCallIds: string[]): string | undefined;
  /** Interrupts a run that waits for client calls (expired or cancelled). */
  cancelWaitingRun?(sessionId: string): Promise<void>;
  /** Subscribes to waiting runs that end by themselves, without their results (by session). */
  onWaitingRunLost?(listener: (sessionId: string, why: WaitingRunLoss) => void): void;
  /** Whether a session can be continued (it exists in the provider's own store). */
  hasSession(sessionId: string): Promise<boolean>;
  /** Readiness: is the provider usable at all? Cached by the caller. */
  check(): Promise<ProviderHealth>;
}
