import { InvalidRequestError, modelNotFound } from '../core/errors.js';
import type { ChatRequest, ContentPart, Message } from '../../providers/types.js';
import type { Job } from '../core/run-types.js';
import { type ChatCompletionRequest, type ChatMessage, imageUrlPartSchema } from './schemas.js';

/**
 * A message's content as parts: text, and images by URL. A part a ChatRequest has no room for
 * (audio, files, refusals) is a 400 naming it; whether a provider takes images is its own call.
 */
function contentParts(content: ChatMessage['content'], index: number): ContentPart[] {
  if (content == null) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((part, j) => {
    if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
    const image = imageUrlPartSchema.safeParse(part);
    if (image.success) return { type: 'image', url: image.data.image_url.url };
    throw new InvalidRequestError(
      `content part type '${part.type}' is not supported: only text parts are`,
      `messages[${index}].content[${j}].type`,
      'unsupported_content_part',
    );
  });
}

/** One message, index for index: errors about messages name the same index on both sides. */
function toMessage(m: ChatMessage, i: number): Message {
  const content = contentParts(m.content, i);
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content };
    case 'user':
      return { role: 'user', content };
    case 'assistant':
      return { role: 'assistant', content, toolCalls: (m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) };
    case 'tool':
      return { role: 'tool', toolCallId: m.tool_call_id, content };
  }
}

function toolChoiceOf(choice: ChatCompletionRequest['tool_choice']): ChatRequest['toolChoice'] {
  if (!choice) return 'auto';
  return typeof choice === 'string' ? choice : { name: choice.function.name };
}

/** `json_schema` asks for its schema (an object when it has none), `json_object` for any JSON object. */
function responseFormatOf(format: ChatCompletionRequest['response_format']): ChatRequest['responseFormat'] {
  if (format?.type === 'json_schema') return jsonFormat(format.json_schema.schema);
  if (format?.type === 'json_object') return jsonFormat(undefined);
  return undefined;
}

/** Structured output, shared by OpenAI's front doors: JSON valid against `schema`, any JSON object without one. */
export function jsonFormat(schema: Record<string, unknown> | null | undefined): NonNullable<ChatRequest['responseFormat']> {
  return { type: 'json_schema', schema: schema ?? { type: 'object' } };
}

/**
 * An OpenAI function tool as the ChatRequest's, shared by OpenAI's front doors. A provider decides
 * what a name means: the Claude CLI takes one of its own tools' names as asking for that tool.
 */
export function functionTool(f: { name: string; description?: string | null; parameters?: Record<string, unknown> | null }): ChatRequest['tools'][number] {
  // OpenAI: a function without parameters takes none.
  return { name: f.name, description: f.description ?? undefined, parameters: f.parameters ?? { type: 'object', properties: {} } };
}

/**
 * The fields of a chat.completions body the gateway reads itself (into the ChatRequest, or as its
 * own extensions): everything else is the client's to pass on to a provider of the same wire format.
 */
const INTERPRETED = new Set([
  'model', 'messages', 'stream', 'stream_options', 'n', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
  'temperature', 'max_tokens', 'max_completion_tokens', 'stop', 'reasoning_effort',
  'session_id', 'background', 'max_turns', 'allowed_tools', 'disallowed_tools', 'cache',
]);

/** The fields the gateway does not interpret (null ones are unset in OpenAI's API), or undefined when there are none. */
function passthroughOf(body: ChatCompletionRequest): ChatRequest['passthrough'] {
  const fields = Object.entries(body).filter(([name, value]) => !INTERPRETED.has(name) && value != null);
  return fields.length ? Object.fromEntries(fields) : undefined;
}

/**
 * A validated OpenAI request as a ChatRequest, for the provider's model `model`. Nothing is decided
 * here about what a provider does with it: the Claude CLI, say, reads functions named after its
 * own tools as asking for them, and `allowed_tools` / `disallowed_tools` as its permission rules.
 */
export function toChatRequest(body: ChatCompletionRequest, model: string): ChatRequest {
  const stop = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined);
  const passthrough = passthroughOf(body);
  return {
    model,
    messages: body.messages.map(toMessage),
    tools: (body.tools ?? []).map(({ function: f }) => functionTool(f)),
    permissions: { allow: body.allowed_tools ?? [], deny: body.disallowed_tools ?? [] },
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls !== false,
    responseFormat: responseFormatOf(body.response_format),
    sampling: {
      temperature: body.temperature ?? undefined,
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
      stop,
      reasoningEffort: body.reasoning_effort ?? undefined,
    },
    session: body.session_id ? { kind: 'continue', sessionId: body.session_id } : { kind: 'new' },
    maxTurns: body.max_turns ?? undefined,
    stream: body.stream === true,
    ...(passthrough ? { passthrough } : {}),
  };
}

/** What the mapping reads of the gateway: which model serves the request. */
export interface JobContext {
  /** The provider's own model name, or undefined when it does not serve this one. */
  resolveModel(requested: string): string | undefined;
}

/** Maps a validated OpenAI request to the job the gateway runs. */
export function toCompletionJob(body: ChatCompletionRequest, ctx: JobContext): Job {
  const model = ctx.resolveModel(body.model);
  if (!model) throw modelNotFound(body.model);
  return { model: body.model, messages: body.messages, request: toChatRequest(body, model) };
}
