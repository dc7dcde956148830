import { InvalidRequestError, modelNotFound } from '../core/errors.js';
import type { ChatRequest, ContentPart, FunctionTool, Message, ToolCall } from '../../providers/types.js';
import type { Job } from '../core/run-types.js';
import type { CountTokensRequest, ImageBlock, MessageParam, MessagesRequest, TextBlock, ToolResultBlock } from './schemas.js';

/** An image block as the ChatRequest's image part: base64 sources as `data:` URLs, URL sources as they are. */
function imagePart(block: ImageBlock): ContentPart {
  const { source } = block;
  return { type: 'image', url: source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url };
}

function part(block: TextBlock | ImageBlock): ContentPart {
  return block.type === 'text' ? { type: 'text', text: block.text } : imagePart(block);
}

/** A tool result's content; an error result says so first, since the ChatRequest has no flag for it. */
function toolResultContent(block: ToolResultBlock): ContentPart[] {
  const parts: ContentPart[] =
    block.content === undefined ? [] : typeof block.content === 'string' ? [{ type: 'text', text: block.content }] : block.content.map(part);
  if (!block.is_error) return parts;
  const [first, ...rest] = parts;
  return first?.type === 'text' ? [{ type: 'text', text: `Error: ${first.text}` }, ...rest] : [{ type: 'text', text: 'Error' }, ...parts];
}

/** A tool call's arguments as the ChatRequest keeps them: the input as a JSON string. */
const argumentsOf = (input: unknown): string => JSON.stringify(input ?? {});

/**
 * One Messages API message as ChatRequest messages: an assistant's `tool_use` blocks become its tool
 * calls; a user's `tool_result` blocks become `tool` messages, before the rest of what it says
 * (the results answer the calls of the message before it). Thinking blocks are left out.
 */
function toMessages(m: MessageParam, i: number): Message[] {
  const blocks = m.content;
  const content: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  const results: Message[] = [];
  blocks.forEach((block, j) => {
    const field = `messages[${i}].content[${j}]`;
    switch (block.type) {
      case 'text':
      case 'image':
        content.push(part(block));
        return;
      case 'tool_use':
        if (m.role !== 'assistant') throw new InvalidRequestError('tool_use blocks belong in assistant messages', `${field}.type`, 'invalid_value');
        toolCalls.push({ id: block.id, name: block.name, arguments: argumentsOf(block.input) });
        return;
      case 'tool_result':
        if (m.role !== 'user') throw new InvalidRequestError('tool_result blocks belong in user messages', `${field}.type`, 'invalid_value');
        results.push({ role: 'tool', toolCallId: block.tool_use_id, content: toolResultContent(block) });
        return;
      default:
        return;
    }
  });
  switch (m.role) {
    case 'system':
      // Claude Code sends its environment this way, sometimes empty.
      return content.length ? [{ role: 'system', content }] : [];
    case 'assistant':
      return [{ role: 'assistant', content, toolCalls }];
    case 'user':
      return [...results, ...(content.length || !results.length ? [{ role: 'user' as const, content }] : [])];
  }
}

function systemMessages(system: CountTokensRequest['system']): Message[] {
  if (system === undefined) return [];
  const content: ContentPart[] = typeof system === 'string' ? [{ type: 'text', text: system }] : system.map((b) => ({ type: 'text', text: b.text }));
  return content.some((c) => c.type === 'text' && c.text) ? [{ role: 'system', content }] : [];
}

/**
 * The client's tools as functions, always its own (`clientOnly`): a Messages API client runs its
 * tools itself, Claude Code its own `Bash` and `Read` included, so a `tool_use` goes back to it.
 * Server tools are refused.
 */
function toolsOf(tools: CountTokensRequest['tools']): FunctionTool[] {
  return (tools ?? []).map((t, i) => {
    if (t.type != null && t.type !== 'custom') {
      throw new InvalidRequestError(`tool type '${t.type}' is not supported: only client tools (with an input_schema) are`, `tools[${i}].type`, 'unsupported_tool');
    }
    return {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      parameters: t.input_schema ?? { type: 'object', properties: {} },
      clientOnly: true,
    };
  });
}

function toolChoiceOf(choice: CountTokensRequest['tool_choice']): ChatRequest['toolChoice'] {
  switch (choice?.type) {
    case undefined:
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { name: choice.name };
  }
}

/** The conversation of a request, as ChatRequest messages: the system prompt first. */
export function conversationOf(body: CountTokensRequest): Message[] {
  const messages = [...systemMessages(body.system), ...body.messages.flatMap(toMessages)];
  if (!messages.some((m) => m.role !== 'system')) throw new InvalidRequestError('messages: at least one user message is required', 'messages', 'invalid_value');
  return messages;
}

/** A validated Messages API request as a ChatRequest for the provider's model `model`. */
export function toChatRequest(body: MessagesRequest, model: string): ChatRequest {
  const choice = body.tool_choice;
  return {
    model,
    messages: conversationOf(body),
    tools: toolsOf(body.tools),
    permissions: { allow: [], deny: [] },
    toolChoice: toolChoiceOf(choice),
    parallelToolCalls: !(choice && 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true),
    sampling: { temperature: body.temperature, maxTokens: body.max_tokens, stop: body.stop_sequences },
    // Sessions are the core's: a conversation that repeats an earlier exchange continues it, tool results reach their waiting run.
    session: { kind: 'new' },
    stream: body.stream === true,
  };
}

/** What the mapping reads of the gateway: which model serves the request. */
export interface JobContext {
  /** The provider's own model name, or undefined when it does not serve this one. */
  resolveModel(requested: string): string | undefined;
}

/** Maps a validated Messages API request to the job the gateway runs; the session log gets the system prompt and the messages (string contents as text blocks). */
export function toMessagesJob(body: MessagesRequest, ctx: JobContext): Job {
  const model = ctx.resolveModel(body.model);
  if (!model) throw modelNotFound(body.model);
  const request = toChatRequest(body, model);
  const messages = body.system === undefined ? body.messages : [{ role: 'system', content: body.system }, ...body.messages];
  return { model: body.model, messages, request };
}

/** Tokens per character of the estimate: about four characters to a token, as for English text. */
const CHARS_PER_TOKEN = 4;
/** What an image counts for: about what a 1000×1000 image costs (w×h / 750). */
const IMAGE_TOKENS = 1_334;

/**
 * An estimate of the input tokens of a request, for `count_tokens`: the characters of its text, tool
 * calls and results, and tool definitions, over four, rounded up, plus a fixed count per image. Not
 * a tokenizer: the provider's real count arrives with the answer's `usage`.
 */
export function estimateInputTokens(body: CountTokensRequest): number {
  let chars = 0;
  let images = 0;
  for (const m of conversationOf(body)) {
    for (const c of m.content) {
      if (c.type === 'text') chars += c.text.length;
      else images++;
    }
    if (m.role === 'assistant') for (const call of m.toolCalls) chars += call.name.length + call.arguments.length;
  }
  for (const t of toolsOf(body.tools)) chars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.parameters).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + images * IMAGE_TOKENS;
}
