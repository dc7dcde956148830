import type { ImageBlock } from '../images.js';
import { type ChatRequest, type FunctionTool, ProviderError, type RunSession } from '../types.js';
import { type ToolResult, renderConversation } from './render.js';
import type { StructuredOutputSchemas } from './structured-output.js';
import { type ToolPolicy, toolSetup } from './tool-policy.js';

/** What the CLI fixes at start: a long-lived process can only serve requests with the same profile. */
export interface SpawnProfile {
  model: string;
  systemPrompt?: string;
  toolPolicy: ToolPolicy;
  maxTurns?: number;
  cwd: string;
  /** Client functions exposed to the model through the in-process MCP server. */
  clientTools: FunctionTool[];
  /** Surface one client call at a time. */
  parallelToolCalls: boolean;
  /** Structured output: the answer must be JSON valid against this schema. */
  jsonSchema?: Record<string, unknown>;
  /** `--max-budget-usd`: the run stops once it has cost this much (what its key's budget leaves). */
  maxBudgetUsd?: number;
  /** `--effort`: how hard the model thinks (a request's reasoning effort). */
  effort?: 'low' | 'medium' | 'high';
}

/** A request as the CLI runs it, but for the session: its profile, its prompt, its tool results. */
export type PreparedRequest = Omit<SpawnProfile, 'cwd'> & {
  /** What goes on stdin: the new turn(s), or a rendered history on a new session. */
  prompt: string;
  /** Images that go with the prompt (only a long-lived process takes them: its stdin is stream-json). */
  images: ImageBlock[];
  /** The results the messages end with (none when they end with a user message). */
  toolResults: ToolResult[];
  stream: boolean;
};

/** A prepared request in its session: what a one-shot run or a pooled process takes. */
export type CliRequest = SpawnProfile & {
  prompt: string;
  images: ImageBlock[];
  /** Results for the run waiting in the session: it continues instead of taking the prompt. */
  toolResults?: ToolResult[];
  stream: boolean;
  sessionId: string;
  /** true: `--resume` the session; false: start it under `sessionId`. */
  resume: boolean;
};

/**
 * Checks a request as the CLI would run it and renders it: tool policy within `allowedTools`
 * (ALLOWED_TOOLS), prompt and history, the structured-output schema. Throws `invalid_request`
 * ProviderErrors, tools first, then messages, then the schema.
 */
export function prepareRequest(request: ChatRequest, allowedTools: readonly string[], schemas: StructuredOutputSchemas): PreparedRequest {
  if (request.session.kind === 'fork') {
    throw new ProviderError('invalid_request', 'the Claude CLI provider cannot fork a session', { code: 'unsupported_session_fork' });
  }
  const tools = toolSetup(request, allowedTools);
  const conversation = renderConversation(request.messages, request.session.kind === 'continue');
  const system = [conversation.systemPrompt, tools.instruction].filter(Boolean).join('\n\n');
  return {
    model: request.model,
    systemPrompt: system || undefined,
    toolPolicy: tools.toolPolicy,
    maxTurns: request.maxTurns,
    clientTools: tools.clientTools,
    parallelToolCalls: request.parallelToolCalls,
    jsonSchema: request.responseFormat && schemas.prepareJsonSchema(request.responseFormat.schema),
    maxBudgetUsd: request.budgetUsd,
    // The CLI has no `minimal`: its lowest is `low`.
    effort: request.sampling.reasoningEffort === 'minimal' ? 'low' : request.sampling.reasoningEffort,
    prompt: conversation.prompt,
    images: conversation.images,
    toolResults: conversation.toolResults,
    stream: request.stream,
  };
}

/** The request in its session; its tool results only when they answer the run waiting there. */
export function placeRequest(prepared: PreparedRequest, session: RunSession): CliRequest {
  const { toolResults, ...rest } = prepared;
  return {
    ...rest,
    cwd: session.cwd,
    sessionId: session.sessionId,
    resume: session.resume,
    toolResults: session.answersWaitingRun ? toolResults : undefined,
  };
}
