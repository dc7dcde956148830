import { randomUUID } from 'node:crypto';
import type { Provider, SessionSettings, ToolResult } from '../providers/types.js';
import type { Config } from './config.js';
import { NotFoundError } from './errors.js';
import { readConversation, toolSetup } from './openai/request.js';
import type { ChatCompletionRequest } from './openai/schemas.js';
import type { CompletionJob } from './process-manager.js';
import type { SessionStore } from './stores/session-store.js';

/** Maps a validated OpenAI request to the job the process manager runs (OpenAI → ProviderRequest). */
export function toCompletionJob(
  body: ChatCompletionRequest,
  ctx: { provider: Provider; config: Config; sessions: SessionStore },
): CompletionJob {
  const model = ctx.provider.resolveModel(body.model);
  if (!model) {
    throw new NotFoundError(`the model '${body.model}' does not exist (see GET /v1/models)`, 'model', 'model_not_found');
  }
  const tools = toolSetup(body, ctx.config.allowedTools);
  let conversation = readConversation(body.messages, Boolean(body.session_id));
  // Tool results go to the run that waits for them, found by their call ids (or its session).
  let sessionId = body.session_id ?? undefined;
  let toolResults: ToolResult[] | undefined;
  if (conversation.toolResults.length) {
    const waiting = ctx.provider.findWaitingRun?.(conversation.toolResults.map((r) => r.toolCallId));
    if (waiting && (!sessionId || sessionId === waiting)) {
      if (!sessionId) conversation = readConversation(body.messages, true);
      sessionId = waiting;
      toolResults = conversation.toolResults;
    }
  }
  const system = [conversation.systemPrompt, tools.instruction].filter(Boolean).join('\n\n');
  const settings: SessionSettings = {
    model,
    systemPrompt: system || undefined,
    toolPolicy: tools.toolPolicy,
    maxTurns: body.max_turns ?? undefined,
    cwd: (sessionId && ctx.sessions.get(sessionId)?.cwd) || ctx.config.workdir,
    clientTools: tools.clientTools,
    parallelToolCalls: body.parallel_tool_calls !== false,
    jsonSchema: jsonSchemaOf(body.response_format, ctx.provider),
  };
  const resume = Boolean(sessionId);
  // Last, once nothing else can fail: a reserved warm process must be given back if it goes unused.
  sessionId ??= ctx.provider.reserveSession?.(settings) ?? randomUUID();
  return {
    model: body.model,
    messages: body.messages,
    request: { ...settings, prompt: conversation.prompt, sessionId, resume, toolResults, stream: body.stream === true },
  };
}

/** `json_schema` asks for its schema (as the provider takes it); `json_object` for any JSON object. */
function jsonSchemaOf(format: ChatCompletionRequest['response_format'], provider: Provider): Record<string, unknown> | undefined {
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema ?? { type: 'object' };
    return provider.prepareJsonSchema?.(schema) ?? schema;
  }
  if (format?.type === 'json_object') return { type: 'object' };
  return undefined;
}
