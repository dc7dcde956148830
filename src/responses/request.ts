import type { ChatRequest, ContentPart, Message } from '../../providers/types.js';
import { GatewayError, modelNotFound } from '../core/errors.js';
import type { Job } from '../core/run-types.js';
import { functionTool, jsonFormat } from '../openai/request.js';
import type { ContentPart as WirePart, CreateResponseRequest, InputItem, ResponseMeta, TextFormat } from './schemas.js';

/**
 * Where one message of the ChatRequest came from, as fields of the Responses request: a provider's
 * 400 names a chat field (`messages[2].content[0].type`), the client gets its own (`input[1].content[0].type`).
 */
export interface MessageSource {
  /** The item (`input[1]`, `instructions`), or `previous_response_id` for a replayed history. */
  item: string;
  /** The item's field holding the message's content parts. */
  content: string;
}

function toParts(parts: WirePart[]): ContentPart[] {
  return parts.map((p): ContentPart => {
    switch (p.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: p.text };
      case 'refusal':
        return { type: 'text', text: p.refusal };
      case 'input_image':
        return { type: 'image', url: p.image_url };
    }
  });
}

/**
 * Input items as the conversation's messages, in order. A `function_call` joins the assistant
 * message just before it (the Responses API lists an answer's text and its calls as separate items;
 * a ChatRequest has one assistant message holding both), or opens one of its own.
 */
export function itemsToMessages(items: InputItem[], source: (i: number) => string): { messages: Message[]; sources: MessageSource[] } {
  const messages: Message[] = [];
  const sources: MessageSource[] = [];
  const add = (m: Message, i: number, content = 'content') => {
    messages.push(m);
    sources.push({ item: source(i), content: `${source(i)}.${content}` });
  };
  items.forEach((item, i) => {
    switch (item.type) {
      case 'message':
        if (item.role === 'assistant') add({ role: 'assistant', content: toParts(item.content), toolCalls: [] }, i);
        else add({ role: item.role === 'user' ? 'user' : 'system', content: toParts(item.content) }, i);
        return;
      case 'function_call': {
        const call = { id: item.call_id, name: item.name, arguments: item.arguments };
        const last = messages.at(-1);
        if (last?.role === 'assistant') last.toolCalls.push(call);
        else add({ role: 'assistant', content: [], toolCalls: [call] }, i);
        return;
      }
      case 'function_call_output': {
        const content = typeof item.output === 'string' ? [{ type: 'text' as const, text: item.output }] : toParts(item.output);
        add({ role: 'tool', toolCallId: item.call_id, content }, i, 'output');
        return;
      }
    }
  });
  return { messages, sources };
}

function toolChoiceOf(choice: CreateResponseRequest['tool_choice']): ChatRequest['toolChoice'] {
  if (!choice) return 'auto';
  return typeof choice === 'string' ? choice : { name: choice.name };
}

function responseFormatOf(format: TextFormat | null | undefined): ChatRequest['responseFormat'] {
  if (format?.type === 'json_schema') return jsonFormat(format.schema);
  if (format?.type === 'json_object') return jsonFormat(undefined);
  return undefined;
}

/** OpenAI's efforts in the ChatRequest's: `none` asks for none (left unset), `xhigh` is the highest there is. */
function effortOf(effort: NonNullable<CreateResponseRequest['reasoning']>['effort']): ChatRequest['sampling']['reasoningEffort'] {
  if (!effort || effort === 'none') return undefined;
  return effort === 'xhigh' ? 'high' : effort;
}

/** Fields a provider of OpenAI's chat wire format takes as they are (openai-compatible passes them on). */
function passthroughOf(body: CreateResponseRequest): ChatRequest['passthrough'] {
  const fields = Object.entries({ top_p: body.top_p, user: body.user }).filter(([, v]) => v != null);
  return fields.length ? Object.fromEntries(fields) : undefined;
}

/** What a response keeps on its record, from its request. */
function metaOf(body: CreateResponseRequest): ResponseMeta {
  return {
    object: 'response',
    instructions: body.instructions ?? null,
    input: body.input,
    previous_response_id: body.previous_response_id ?? null,
    metadata: body.metadata ?? {},
    tools: body.tools ?? [],
    tool_choice: body.tool_choice ?? 'auto',
    parallel_tool_calls: body.parallel_tool_calls !== false,
    text: body.text ?? { format: { type: 'text' } },
    reasoning: body.reasoning ?? null,
    temperature: body.temperature ?? null,
    top_p: body.top_p ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    store: body.store !== false,
    background: body.background === true,
    user: body.user ?? null,
  };
}

export interface ResponseJobContext {
  /** The provider's own model name, or undefined when none serves it. */
  resolveModel(requested: string): string | undefined;
  /**
   * The session the response runs in: `continue` the previous response's session, or a `new` one
   * (also for a fork, which then brings the conversation so far as `history`).
   */
  session: ChatRequest['session'];
  /** The conversation before this request's input, as items, when the session does not hold it (a fork). */
  history?: InputItem[];
}

/**
 * A validated Responses request as the job the gateway runs: `instructions` first as a system
 * message, then the history a fork replays, then the input items. `sources` says where each
 * message came from, for the params of 400s.
 */
export function toResponseJob(body: CreateResponseRequest, ctx: ResponseJobContext): { job: Job; sources: MessageSource[] } {
  const model = ctx.resolveModel(body.model);
  if (!model) throw modelNotFound(body.model);
  const system = body.instructions ? itemsToMessages([{ type: 'message', role: 'system', content: [{ type: 'input_text', text: body.instructions }] }], () => 'instructions') : undefined;
  const history = itemsToMessages(ctx.history ?? [], () => 'previous_response_id');
  const input = itemsToMessages(body.input, (i) => `input[${i}]`);
  const messages = [...(system?.messages ?? []), ...history.messages, ...input.messages];
  const sources = [...(system ? [{ item: 'instructions', content: 'instructions' }] : []), ...history.sources, ...input.sources];
  const passthrough = passthroughOf(body);
  const request: ChatRequest = {
    model,
    messages,
    tools: (body.tools ?? []).map(functionTool),
    permissions: { allow: [], deny: [] },
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls !== false,
    responseFormat: responseFormatOf(body.text?.format),
    sampling: {
      temperature: body.temperature ?? undefined,
      maxTokens: body.max_output_tokens ?? undefined,
      reasoningEffort: effortOf(body.reasoning?.effort),
    },
    session: ctx.session,
    stream: body.stream === true,
    ...(passthrough ? { passthrough } : {}),
  };
  const logged = [...(body.instructions ? [{ role: 'system', content: body.instructions }] : []), ...body.input];
  return { job: { model: body.model, messages: logged, request, meta: metaOf(body) }, sources };
}

/**
 * A chat field a provider's 400 names, as the Responses request's field: `messages[k]…` as the item
 * it came from, `tools[i].function.name` as `tools[i].name`, `response_format…` as `text.format…`.
 */
export function responsesParam(param: string | null, sources: readonly MessageSource[]): string | null {
  if (param === null) return null;
  const message = /^messages\[(\d+)\](.*)$/.exec(param);
  if (message) {
    const source = sources[Number(message[1])];
    if (!source) return 'input';
    const rest = message[2]!;
    return rest.startsWith('.content') ? source.content + rest.slice('.content'.length) : source.item + rest;
  }
  const tool = /^tools\[(\d+)\]\.function(.*)$/.exec(param);
  if (tool) return `tools[${tool[1]}]${tool[2]}`;
  if (param.startsWith('response_format')) return param.replace(/^response_format(\.json_schema)?/, 'text.format');
  const renamed: Record<string, string> = { messages: 'input', max_tokens: 'max_output_tokens', max_completion_tokens: 'max_output_tokens', session_id: 'previous_response_id' };
  return renamed[param] ?? param;
}

/** The error with its param named as the Responses request names it (the same error when it already is). */
export function withResponsesParam(err: GatewayError, sources: readonly MessageSource[]): GatewayError {
  const param = responsesParam(err.param, sources);
  if (param === err.param) return err;
  return new GatewayError(err.status, err.type, err.message, { param, code: err.code, headers: err.headers, raw: err.raw });
}
