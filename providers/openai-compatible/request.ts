import { type ChatRequest, type ContentPart, type Message, ProviderError } from '../types.js';
import type { ChatCompletionsBody, ContentParam, FunctionToolParam, MessageParam, ToolChoiceParam } from './wire.js';

/**
 * Fields of the body the provider alone decides: a client's passthrough never sets them (it would
 * change what the gateway reads back: a non-streamed answer, several choices, legacy function calls).
 */
const RESERVED = new Set(['model', 'messages', 'stream', 'stream_options', 'n', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'functions', 'function_call']);

// Params name the fields of the gateway's public (OpenAI) request, the one the 400 answers.
const refused = (message: string, param: string, code: string) => new ProviderError('invalid_request', message, { param, code });

function contentOf(parts: ContentPart[]): ContentParam {
  if (parts.length === 0) return '';
  if (parts.length === 1 && parts[0]!.type === 'text') return parts[0]!.text;
  return parts.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image_url', image_url: { url: p.url } }));
}

/** One message in OpenAI's terms; which parts a role may have is the upstream's call. */
function toParam(m: Message): MessageParam {
  switch (m.role) {
    case 'system':
    case 'user':
      return { role: m.role, content: contentOf(m.content) };
    case 'assistant':
      if (!m.toolCalls.length) return { role: 'assistant', content: contentOf(m.content) };
      return {
        role: 'assistant',
        // OpenAI's own answers with calls and no text carry null.
        content: m.content.length ? contentOf(m.content) : null,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: contentOf(m.content) };
  }
}

/**
 * Tools with what the model may do with them; nothing at all without tools, since OpenAI refuses
 * tool_choice and parallel_tool_calls without them (a choice that needs a tool is refused here).
 */
function toolFields(request: ChatRequest): Pick<ChatCompletionsBody, 'tools' | 'tool_choice' | 'parallel_tool_calls'> {
  const choice = request.toolChoice;
  if (typeof choice === 'object' && !request.tools.some((t) => t.name === choice.name)) {
    throw refused(`tool_choice names '${choice.name}', which is not among the tools`, 'tool_choice', 'unknown_function');
  }
  if (!request.tools.length) {
    if (choice === 'required') throw refused("tool_choice 'required' needs tools", 'tool_choice', 'invalid_tool_choice');
    return {};
  }
  const tools = request.tools.map(
    (t): FunctionToolParam => ({ type: 'function', function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters } }),
  );
  const toolChoice: ToolChoiceParam = typeof choice === 'object' ? { type: 'function', function: { name: choice.name } } : choice;
  return { tools, tool_choice: toolChoice, parallel_tool_calls: request.parallelToolCalls };
}

/** The Claude CLI's tool permissions have no meaning for a plain model: refused rather than ignored. */
function refuseToolPermissions(request: ChatRequest): void {
  for (const [rules, param] of [[request.permissions.allow, 'allowed_tools'], [request.permissions.deny, 'disallowed_tools']] as const) {
    if (rules.length) throw refused(`${param} are Claude Code tool permissions: only the claude-cli/ models take them`, param, 'unsupported_parameter');
  }
}

/** The client's passthrough fields, without those the provider decides. */
function passthroughOf(request: ChatRequest): Record<string, unknown> {
  return Object.fromEntries(Object.entries(request.passthrough ?? {}).filter(([name]) => !RESERVED.has(name)));
}

/**
 * Maps a ChatRequest to a chat completions body for the upstream's model `request.model`, always
 * streamed with the usage in the last chunk (the provider yields deltas either way). A session to
 * continue or fork is the core's: it has put the whole history in the messages already.
 */
export function prepareChatCompletion(request: ChatRequest): ChatCompletionsBody {
  refuseToolPermissions(request);
  const { temperature, maxTokens, stop, reasoningEffort } = request.sampling;
  return {
    // Under the fields set below: a client's field never replaces the provider's.
    ...passthroughOf(request),
    model: request.model,
    messages: request.messages.map(toParam),
    ...toolFields(request),
    ...(request.responseFormat ? { response_format: { type: 'json_schema', json_schema: { name: 'response', schema: request.responseFormat.schema } } } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    ...(stop?.length ? { stop } : {}),
    ...(reasoningEffort !== undefined ? { reasoning_effort: reasoningEffort } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
}
