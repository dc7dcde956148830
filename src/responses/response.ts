import type { TokenUsage } from '../../providers/types.js';
import { InvalidRequestError, type OpenAIError } from '../core/errors.js';
import type { ProcessRecord } from '../core/process-types.js';
import type { RunResult } from '../core/run-types.js';
import { toUsage } from '../openai/response.js';
import { type InputItem, type InputItemsQuery, RESPONSE_ID, type ResponseMeta, responseMetaSchema } from './schemas.js';

// A response is a process underneath: `resp_<hex>` is `proc_<hex>`, its record keeps the request
// (`meta`), and its answer renders as the Responses API's `response` object.

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
}

export interface MessageItem {
  id: string;
  type: 'message';
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: OutputText[];
}

export interface FunctionCallItem {
  id: string;
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export type OutputItem = MessageItem | FunctionCallItem;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  background: boolean;
  temperature: number | null;
  top_p: number | null;
  text: ResponseMeta['text'];
  tool_choice: ResponseMeta['tool_choice'];
  tools: {
    type: 'function';
    name: string;
    description: string | null;
    parameters: Record<string, unknown> | null;
    strict: boolean | null;
  }[];
  truncation: 'disabled';
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
  /** The gateway's own: the Claude session the response ran in, and its process. */
  session_id: string;
  process_id: string;
}

/** `proc_<hex>` → `resp_<hex>`. */
export const responseIdOf = (processId: string): string => `resp_${processId.replace(/^proc_/, '')}`;

/** `resp_<hex>` → `proc_<hex>`; undefined for anything that is no response id. */
export const processIdOf = (responseId: string): string | undefined => (RESPONSE_ID.test(responseId) ? `proc_${responseId.slice(5)}` : undefined);

/** What the Responses front door kept on a process record; undefined when another front door made it. */
export function responseMeta(record: ProcessRecord): ResponseMeta | undefined {
  const parsed = responseMetaSchema.safeParse(record.meta);
  return parsed.success ? parsed.data : undefined;
}

/** OpenAI's input tokens include cached ones, as chat completions' prompt_tokens do. */
export function toResponseUsage(u: TokenUsage): ResponseUsage {
  const { prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details } = toUsage(u);
  return {
    input_tokens: prompt_tokens,
    input_tokens_details: { cached_tokens: prompt_tokens_details.cached_tokens },
    output_tokens: completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens,
  };
}

/** The id of an answer's message item. */
export const messageItemId = (completionId: string): string => `msg_${completionId}`;
/** The id of a function call's item, from its call id (stable: the same whether streamed, replayed or fetched). */
export const functionCallItemId = (callId: string): string => `fc_${callId.replace(/^(toolu_|call_|fc_)/, '')}`;

export function messageItem(completionId: string, text: string, status: MessageItem['status']): MessageItem {
  return { id: messageItemId(completionId), type: 'message', role: 'assistant', status, content: [{ type: 'output_text', text, annotations: [] }] };
}

export function functionCallItem(call: { id: string; name: string; arguments: string }, status: FunctionCallItem['status']): FunctionCallItem {
  return { id: functionCallItemId(call.id), type: 'function_call', call_id: call.id, name: call.name, arguments: call.arguments, status };
}

/** An answer's output: its text as a message (unless it only calls functions), then its calls. */
export function outputItems(result: RunResult): OutputItem[] {
  const calls = result.toolCalls ?? [];
  const status = result.finishReason === 'length' ? 'incomplete' : 'completed';
  const message = result.text || !calls.length ? [messageItem(result.completionId, result.text, status)] : [];
  return [...message, ...calls.map((c) => functionCallItem(c, 'completed'))];
}

/**
 * A process's status as a response's: a run waiting for the results of its function calls has
 * answered (`completed`, with `function_call` items); one cut short by the token or turn limit is
 * `incomplete`.
 */
export function responseStatus(record: ProcessRecord): ResponseStatus {
  switch (record.status) {
    case 'queued':
      return 'queued';
    case 'running':
      return 'in_progress';
    case 'requires_action':
      return 'completed';
    case 'completed':
      return record.result?.finishReason === 'length' ? 'incomplete' : 'completed';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
  }
}

/** A failure as a response's `error`: the gateway's code (`server_error` when it has none) and message. */
export const responseError = (e: OpenAIError): ResponseObject['error'] => ({ code: e.code ?? 'server_error', message: e.message });

/** A response's process record as the `response` object. */
export function toResponse(record: ProcessRecord, meta: ResponseMeta): ResponseObject {
  const status = responseStatus(record);
  const result = record.result;
  return {
    id: responseIdOf(record.id),
    object: 'response',
    created_at: Math.floor(record.created_at),
    status,
    completed_at: record.completed_at === null ? null : Math.floor(record.completed_at),
    error: status === 'failed' && record.error ? responseError(record.error) : null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: meta.instructions,
    max_output_tokens: meta.max_output_tokens,
    model: record.model,
    output: result ? outputItems(result) : [],
    parallel_tool_calls: meta.parallel_tool_calls,
    previous_response_id: meta.previous_response_id,
    reasoning: { effort: meta.reasoning?.effort ?? null, summary: meta.reasoning?.summary ?? null },
    store: meta.store,
    background: meta.background,
    temperature: meta.temperature,
    top_p: meta.top_p,
    text: meta.text,
    tool_choice: meta.tool_choice,
    tools: meta.tools.map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? null })),
    truncation: 'disabled',
    usage: result ? toResponseUsage(result.usage) : null,
    user: meta.user,
    metadata: meta.metadata,
    session_id: record.session_id,
    process_id: record.id,
  };
}

/** A response's output as input items: how a fork replays an earlier turn's answer. */
export function outputAsInput(result: RunResult): InputItem[] {
  return outputItems(result).map((item): InputItem =>
    item.type === 'message'
      ? { type: 'message', id: item.id, role: 'assistant', content: item.content.map((c) => ({ ...c })), status: item.status }
      : { ...item },
  );
}

/** Input items as `input_items` lists them: each with an id (the client's, else one of the response's own). */
export function listedInputItems(meta: ResponseMeta, responseId: string) {
  const hex = responseId.replace(/^resp_/, '');
  return meta.input.map((item, i) => {
    const prefix = item.type === 'message' ? 'msg' : item.type === 'function_call' ? 'fc' : 'fco';
    return { ...item, id: item.id ?? `${prefix}_${hex}_${i}`, status: item.status ?? 'completed' };
  });
}

/** One page of a response's input items, as OpenAI lists them (newest first unless `order=asc`). */
export function inputItemsPage(meta: ResponseMeta, responseId: string, q: InputItemsQuery) {
  const all = listedInputItems(meta, responseId);
  const ordered = q.order === 'asc' ? all : [...all].reverse();
  const at = q.after === undefined ? -1 : ordered.findIndex((item) => item.id === q.after);
  if (q.after !== undefined && at < 0) throw new InvalidRequestError(`'after' names no input item of ${responseId}`, 'after');
  const from = at + 1;
  const data = ordered.slice(from, from + q.limit);
  return { object: 'list' as const, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: from + q.limit < ordered.length };
}
