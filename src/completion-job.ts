import { randomUUID } from 'node:crypto';
import type { Provider, SessionSettings } from '../providers/types.js';
import type { Config } from './config.js';
import { NotFoundError } from './errors.js';
import { buildPrompt, toolPolicy } from './openai/request.js';
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
  const resume = Boolean(body.session_id);
  const { systemPrompt, prompt } = buildPrompt(body.messages, resume);
  const settings: SessionSettings = {
    model,
    systemPrompt,
    toolPolicy: toolPolicy(body, ctx.config.allowedTools),
    maxTurns: body.max_turns ?? undefined,
    cwd: (body.session_id && ctx.sessions.get(body.session_id)?.cwd) || ctx.config.workdir,
  };
  // Last, once nothing else can fail: a reserved warm process must be given back if it goes unused.
  const sessionId = body.session_id ?? ctx.provider.reserveSession?.(settings) ?? randomUUID();
  return {
    model: body.model,
    messages: body.messages,
    request: { ...settings, prompt, sessionId, resume, stream: body.stream === true },
  };
}
