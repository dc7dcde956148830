import { InvalidRequestError, NotFoundError } from '../core/errors.js';
import type { ClientTool, ToolPolicy, ToolResult } from '../../providers/types.js';
import type { Principal } from '../core/ownership.js';
import type { CompletionJob } from '../core/run-types.js';
import { type ChatCompletionRequest, type ChatMessage, FUNCTION_NAME } from './schemas.js';

/** Claude Code's own tools: an OpenAI function tool with one of these names enables it. */
export const CLAUDE_CODE_TOOLS = [
  'Agent', 'Bash', 'Edit', 'Glob', 'Grep', 'MultiEdit', 'NotebookEdit', 'Read', 'Skill', 'Task',
  'TodoWrite', 'WebFetch', 'WebSearch', 'Write',
] as const;

/** Text of a message's content; any part other than text is a 400 naming it. */
export function contentText(msg: ChatMessage, index: number): string {
  const content = msg.content;
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type !== 'text' || typeof part.text !== 'string') {
        throw new InvalidRequestError(
          `content part type '${part.type}' is not supported: only text parts are`,
          `messages[${index}].content[${j}].type`,
          'unsupported_content_part',
        );
      }
      return part.text;
    })
    .join('\n');
}

export interface Conversation {
  systemPrompt?: string;
  /** What goes to the CLI on stdin when no waiting run takes the tool results. */
  prompt: string;
  /** Results of the client's function calls, when the messages end with `role: "tool"` ones. */
  toolResults: ToolResult[];
}

type Indexed = { m: ChatMessage; i: number };

/**
 * Splits OpenAI messages into the system prompt and what goes to the CLI on stdin.
 * - Continuing a session: only the messages after the last assistant message; the rest is in the
 *   session already.
 * - A first turn whose messages already hold assistant turns: the history, tool calls and results
 *   included, is rendered as a tagged transcript ahead of the new turn, so the model sees every
 *   earlier turn verbatim.
 * - Messages that end with tool results: those results, for the run that waits for them; the
 *   prompt is then the fallback for when no run waits any more.
 */
export function readConversation(messages: ChatMessage[], continuing: boolean): Conversation {
  const all = messages.map((m, i) => ({ m, i }));
  const system = all
    .filter(({ m }) => m.role === 'system' || m.role === 'developer')
    .map(({ m, i }) => contentText(m, i))
    .filter(Boolean);
  const turns = all.filter(({ m }) => m.role !== 'system' && m.role !== 'developer');
  let lastAssistant = -1;
  turns.forEach(({ m }, k) => {
    if (m.role === 'assistant') lastAssistant = k;
  });
  const fresh = turns.slice(lastAssistant + 1);
  const history = continuing ? [] : turns.slice(0, lastAssistant + 1);
  const systemPrompt = system.length ? system.join('\n\n') : undefined;
  if (fresh.length === 0) {
    throw new InvalidRequestError('messages must end with a user message or with tool results', 'messages', 'missing_user_message');
  }
  const tools = fresh.filter(({ m }) => m.role === 'tool');
  if (tools.length) {
    if (tools.length !== fresh.length) {
      throw new InvalidRequestError(
        'tool results must directly follow the assistant message whose tool_calls they answer, and end the messages',
        `messages[${tools[0]!.i}]`,
        'invalid_tool_results',
      );
    }
    const toolResults = tools.map(({ m, i }) => ({ toolCallId: (m as { tool_call_id: string }).tool_call_id, content: contentText(m, i) }));
    const results = renderTurns(tools);
    const prompt = history.length
      ? `${renderHistory(history, 'The results of your tool calls follow; continue from there.')}\n\n${results}`
      : `The results of your tool calls:\n${results}\n\nContinue from there.`;
    return { systemPrompt, prompt, toolResults };
  }
  const newText = fresh.map(({ m, i }) => contentText(m, i)).join('\n\n');
  const prompt = history.length
    ? `${renderHistory(history, "The user's new message follows; answer it as the assistant of this conversation.")}\n\n${newText}`
    : newText;
  if (!prompt.trim()) {
    throw new InvalidRequestError('the new user message is empty', `messages[${fresh[fresh.length - 1]!.i}].content`, 'empty_message');
  }
  return { systemPrompt, prompt, toolResults: [] };
}

function renderTurns(turns: Indexed[]): string {
  return turns
    .map(({ m, i }) => {
      if (m.role === 'tool') return `<turn role="tool" tool_call_id="${m.tool_call_id}">\n${contentText(m, i)}\n</turn>`;
      const calls =
        m.role === 'assistant' && m.tool_calls?.length
          ? `\n${m.tool_calls.map((c) => `<tool_call id="${c.id}" name="${c.function.name}">${c.function.arguments}</tool_call>`).join('\n')}`
          : '';
      return `<turn role="${m.role}">\n${contentText(m, i)}${calls}\n</turn>`;
    })
    .join('\n');
}

function renderHistory(turns: Indexed[], then: string): string {
  return (
    'The conversation so far, oldest turn first (earlier turns of this same conversation, given here because ' +
    `they happened elsewhere):\n<conversation_history>\n${renderTurns(turns)}\n</conversation_history>\n\n${then}\n`
  );
}

export interface ToolSetup {
  toolPolicy: ToolPolicy;
  clientTools: ClientTool[];
  /** What tool_choice asks of the model beyond what flags can enforce, for the system prompt. */
  instruction?: string;
}

/**
 * The tools a request may use. OpenAI function tools named after Claude Code tools, and
 * `allowed_tools` rules, enable (and pre-approve) their tool within the server's cap;
 * `disallowed_tools` only ever restricts. Other functions are the client's own: exposed to the
 * model, their calls come back as `tool_calls`. `tool_choice: "none"` means no tools at all; a
 * named function exposes only that one.
 */
export function toolSetup(req: ChatCompletionRequest, cap: readonly string[]): ToolSetup {
  const policy: ToolPolicy = { tools: [], allowed: [], disallowed: [...(req.disallowed_tools ?? [])] };
  const clientTools: ClientTool[] = [];
  const enable = (name: string, rule: string, param: string) => {
    if (!cap.includes(name)) {
      throw new InvalidRequestError(
        `tool '${name}' is not allowed on this gateway (allowed: ${cap.length ? cap.join(', ') : 'none'}; see ALLOWED_TOOLS)`,
        param,
        'tool_not_allowed',
      );
    }
    if (!policy.tools.includes(name)) policy.tools.push(name);
    if (!policy.allowed.includes(rule)) policy.allowed.push(rule);
  };
  const named = typeof req.tool_choice === 'object' && req.tool_choice ? req.tool_choice.function.name : undefined;
  (req.tools ?? []).forEach((t, i) => {
    const { name, description, parameters } = t.function;
    if ((CLAUDE_CODE_TOOLS as readonly string[]).includes(name)) {
      enable(name, name, `tools[${i}].function.name`);
      return;
    }
    if (!FUNCTION_NAME.test(name)) {
      throw new InvalidRequestError('function names must match ^[a-zA-Z0-9_-]{1,64}$', `tools[${i}].function.name`, 'invalid_function_name');
    }
    if (clientTools.some((c) => c.name === name)) {
      throw new InvalidRequestError(`function '${name}' is defined twice`, `tools[${i}].function.name`, 'duplicate_function');
    }
    if (!named || named === name) clientTools.push({ name, description, parameters: parameters ?? { type: 'object', properties: {} } });
  });
  if (named && !clientTools.some((c) => c.name === named)) {
    throw new InvalidRequestError(`tool_choice names '${named}', which is not among the tools`, 'tool_choice', 'unknown_function');
  }
  (req.allowed_tools ?? []).forEach((rule, i) => enable(rule.replace(/\(.*$/s, ''), rule, `allowed_tools[${i}]`));
  // Checked all the same, so that a request is valid or not whatever its tool_choice.
  if (req.tool_choice === 'none') return { toolPolicy: { tools: [], allowed: [], disallowed: policy.disallowed }, clientTools: [] };
  const instruction = named
    ? `You must call the function ${named} now.`
    : req.tool_choice === 'required' && clientTools.length
      ? 'You must call at least one of the available functions before you answer.'
      : undefined;
  return { toolPolicy: policy, clientTools, instruction };
}

/** What the mapping reads of the gateway: who asks, and lookups, none of which changes anything. */
export interface JobContext {
  /** Whose job it is (the key that sent the request). */
  owner: Principal;
  /** The server's cap on the Claude Code tools a request may enable (ALLOWED_TOOLS). */
  allowedTools: readonly string[];
  /** The provider's own model name, or undefined when it does not serve this one. */
  resolveModel(requested: string): string | undefined;
  /** The session whose run waits for these client calls, if one does and `owner` may answer it. */
  findWaitingRun(toolCallIds: string[]): string | undefined;
  /** A structured-output schema as the provider takes it; throws a 400 for one it would refuse. */
  prepareJsonSchema(schema: Record<string, unknown>): Record<string, unknown>;
}

/** Maps a validated OpenAI request to the job the gateway runs. */
export function toCompletionJob(body: ChatCompletionRequest, ctx: JobContext): CompletionJob {
  const model = ctx.resolveModel(body.model);
  if (!model) {
    throw new NotFoundError(`the model '${body.model}' does not exist (see GET /v1/models)`, 'model', 'model_not_found');
  }
  const tools = toolSetup(body, ctx.allowedTools);
  let conversation = readConversation(body.messages, Boolean(body.session_id));
  // Tool results go to the run that waits for them, found by their call ids (or its session).
  let sessionId = body.session_id ?? undefined;
  let toolResults: ToolResult[] | undefined;
  if (conversation.toolResults.length) {
    const waiting = ctx.findWaitingRun(conversation.toolResults.map((r) => r.toolCallId));
    if (waiting && (!sessionId || sessionId === waiting)) {
      if (!sessionId) conversation = readConversation(body.messages, true);
      sessionId = waiting;
      toolResults = conversation.toolResults;
    }
  }
  const system = [conversation.systemPrompt, tools.instruction].filter(Boolean).join('\n\n');
  return {
    model: body.model,
    messages: body.messages,
    sessionId,
    settings: {
      model,
      systemPrompt: system || undefined,
      toolPolicy: tools.toolPolicy,
      maxTurns: body.max_turns ?? undefined,
      clientTools: tools.clientTools,
      parallelToolCalls: body.parallel_tool_calls !== false,
      jsonSchema: jsonSchemaOf(body.response_format, ctx),
    },
    prompt: conversation.prompt,
    toolResults,
    stream: body.stream === true,
    owner: ctx.owner,
  };
}

/** `json_schema` asks for its schema (as the provider takes it); `json_object` for any JSON object. */
function jsonSchemaOf(format: ChatCompletionRequest['response_format'], ctx: JobContext): Record<string, unknown> | undefined {
  if (format?.type === 'json_schema') return ctx.prepareJsonSchema(format.json_schema.schema ?? { type: 'object' });
  if (format?.type === 'json_object') return { type: 'object' };
  return undefined;
}
