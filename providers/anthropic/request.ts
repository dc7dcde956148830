import { enablesBuiltIn } from '../claude-cli/tool-policy.js';
import { imageBlock } from '../images.js';
import { type ChatRequest, type ContentPart, type Message, ProviderError } from '../types.js';
import type { ImageBlock, MessageParam, MessagesBody, TextBlock, Tool, ToolChoice } from './wire.js';

/** A request as the provider sends it; `outputTool` names the tool that carries a structured answer. */
export interface PreparedMessages {
  body: MessagesBody;
  outputTool?: string;
}

/** max_tokens is required by the API: this when the client sets none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** The forced tool whose input is the structured answer (response_format). */
export const OUTPUT_TOOL = 'json_answer';

/** The Anthropic API's rule for tool names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const EPHEMERAL = { type: 'ephemeral' } as const;

// Params name the fields of the gateway's public (OpenAI) request, the one the 400 answers.
const refused = (message: string, param: string, code: string) => new ProviderError('invalid_request', message, { param, code });

/** Text and image parts as blocks; empty text is left out (the API refuses empty text blocks). */
function blocks(parts: ContentPart[], index: number, images: boolean): (TextBlock | ImageBlock)[] {
  return parts.flatMap((part, j): (TextBlock | ImageBlock)[] => {
    if (part.type === 'text') return part.text ? [{ type: 'text', text: part.text }] : [];
    const param = `messages[${index}].content[${j}]`;
    if (!images) throw refused('images are only supported in user and tool messages', param, 'unsupported_content_part');
    return [imageBlock(part.url, `${param}.image_url.url`)];
  });
}

function toolInput(args: string, param: string): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(args || '{}');
  } catch {
    throw refused('tool call arguments must be a JSON object', param, 'invalid_tool_arguments');
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw refused('tool call arguments must be a JSON object', param, 'invalid_tool_arguments');
  return input as Record<string, unknown>;
}

/** One non-system message as the API's blocks, with the role they go under. */
function toParam(m: Exclude<Message, { role: 'system' }>, i: number): MessageParam {
  switch (m.role) {
    case 'user':
      return { role: 'user', content: blocks(m.content, i, true) };
    case 'assistant':
      return {
        role: 'assistant',
        content: [
          ...blocks(m.content, i, false),
          ...m.toolCalls.map((c, j) => ({
            type: 'tool_use' as const,
            id: c.id,
            name: c.name,
            input: toolInput(c.arguments, `messages[${i}].tool_calls[${j}].function.arguments`),
          })),
        ],
      };
    case 'tool':
      // Results answer the calls of the assistant message before them, in a user message.
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: m.toolCallId, content: blocks(m.content, i, true) }] };
  }
}

/**
 * The conversation as the API takes it: system messages joined into the system prompt, the others
 * in order, consecutive messages of one role merged (tool results, then the user's text), empty ones
 * left out.
 */
function conversation(messages: Message[]): { system?: TextBlock[]; messages: MessageParam[] } {
  const system: string[] = [];
  const out: MessageParam[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'system') {
      const texts = blocks(m.content, i, false).map((b) => (b as TextBlock).text);
      system.push(...texts);
      return;
    }
    const param = toParam(m, i);
    if (!param.content.length) return;
    const last = out.at(-1);
    if (last?.role === param.role) last.content.push(...param.content);
    else out.push(param);
  });
  if (!out.length) throw refused('the messages need at least one user message', 'messages', 'no_user_message');
  return { system: system.length ? [{ type: 'text', text: system.join('\n\n') }] : undefined, messages: out };
}

/**
 * Prompt caching: breakpoints on the system prompt, the last tool and the last message before the
 * new turn (the trailing user message, tool results included), so the next turn reads the shared
 * prefix from the cache.
 */
function markCacheBreakpoints(body: MessagesBody): void {
  const lastSystem = body.system?.at(-1);
  if (lastSystem) lastSystem.cache_control = EPHEMERAL;
  const lastTool = body.tools?.at(-1);
  if (lastTool) lastTool.cache_control = EPHEMERAL;
  const beforeTurn = body.messages.length >= 2 && body.messages.at(-1)!.role === 'user' ? body.messages.at(-2) : undefined;
  const block = beforeTurn?.content.at(-1);
  if (block) block.cache_control = EPHEMERAL;
}

function tools(request: ChatRequest): Tool[] {
  return request.tools.map((t, i) => {
    const param = `tools[${i}].function.name`;
    if (enablesBuiltIn(t)) {
      throw refused(`'${t.name}' is a Claude Code tool: only the claude-cli/ models run those`, param, 'unsupported_builtin_tool');
    }
    if (!TOOL_NAME.test(t.name)) throw refused('function names must match ^[a-zA-Z0-9_-]{1,64}$', param, 'invalid_function_name');
    if (request.tools.slice(0, i).some((o) => o.name === t.name)) throw refused(`function '${t.name}' is defined twice`, param, 'duplicate_function');
    return { name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters };
  });
}

function toolChoice(request: ChatRequest, defined: Tool[]): ToolChoice | undefined {
  const choice = request.toolChoice;
  if (typeof choice === 'object' && !defined.some((t) => t.name === choice.name)) {
    throw refused(`tool_choice names '${choice.name}', which is not among the tools`, 'tool_choice', 'unknown_function');
  }
  if (!defined.length) return undefined;
  if (choice === 'none') return { type: 'none' };
  const parallel = request.parallelToolCalls ? {} : { disable_parallel_tool_use: true };
  if (choice === 'auto') return { type: 'auto', ...parallel };
  if (choice === 'required') return { type: 'any', ...parallel };
  return { type: 'tool', name: choice.name, ...parallel };
}

/**
 * What the provider cannot do: the CLI's tool permissions. (A session's turn arrives with the whole
 * conversation, which the gateway keeps: `session` says nothing here.)
 */
function refuseUnsupported(request: ChatRequest): void {
  if (request.permissions.allow.length) {
    throw refused('allowed_tools are Claude Code tool permissions: only the claude-cli/ models take them', 'allowed_tools', 'unsupported_parameter');
  }
  if (request.permissions.deny.length) {
    throw refused('disallowed_tools are Claude Code tool permissions: only the claude-cli/ models take them', 'disallowed_tools', 'unsupported_parameter');
  }
}

/**
 * Maps a ChatRequest to a Messages API request, or refuses it with an `invalid_request` naming the
 * field. Structured output is a forced tool whose input schema is the response format's: the
 * API then guarantees JSON of that shape, which instructions alone would not; combining it with
 * the client's own tools is refused for now.
 */
export function prepareMessages(request: ChatRequest): PreparedMessages {
  refuseUnsupported(request);
  const defined = tools(request);
  const choice = toolChoice(request, defined);
  const { system, messages } = conversation(request.messages);
  const { temperature, maxTokens, stop } = request.sampling;
  const body: MessagesBody = {
    model: request.model,
    max_tokens: maxTokens ?? DEFAULT_MAX_TOKENS,
    ...(system ? { system } : {}),
    messages,
    ...(temperature !== undefined ? { temperature } : {}),
    ...(stop?.length ? { stop_sequences: stop } : {}),
    stream: true,
  };
  let outputTool: string | undefined;
  if (request.responseFormat) {
    if (defined.length) {
      throw refused('response_format cannot be combined with tools on anthropic/ models yet', 'response_format', 'unsupported_parameter');
    }
    outputTool = OUTPUT_TOOL;
    body.tools = [{ name: OUTPUT_TOOL, description: 'Give your final answer as the input of this tool.', input_schema: request.responseFormat.schema }];
    body.tool_choice = { type: 'tool', name: OUTPUT_TOOL };
  } else if (defined.length) {
    body.tools = defined;
    body.tool_choice = choice;
  }
  markCacheBreakpoints(body);
  return { body, outputTool };
}
