/**
 * OpenAI's chat completions API, as far as the provider sends and reads it: the request body
 * (`POST <base>/chat/completions`) and the chunks of its `stream: true` answer.
 */
import { z } from 'zod';

// ---------------------------------------------------------------- the request body

export type ContentPartParam = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };
/** A lone text goes as a plain string: every server takes that, not all take parts. */
export type ContentParam = string | ContentPartParam[];

export interface ToolCallParam {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type MessageParam =
  | { role: 'system'; content: ContentParam }
  | { role: 'user'; content: ContentParam }
  | { role: 'assistant'; content: ContentParam | null; tool_calls?: ToolCallParam[] }
  | { role: 'tool'; tool_call_id: string; content: ContentParam };

export interface FunctionToolParam {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

export type ToolChoiceParam = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatCompletionsBody {
  model: string;
  messages: MessageParam[];
  tools?: FunctionToolParam[];
  tool_choice?: ToolChoiceParam;
  parallel_tool_calls?: boolean;
  response_format?: { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown> } };
  temperature?: number;
  max_tokens?: number;
  stop?: string[];
  reasoning_effort?: string;
  stream: true;
  stream_options: { include_usage: true };
  /** The client's fields the gateway passes on (`top_p`, `seed`, a server's own extensions). */
  [field: string]: unknown;
}

// ---------------------------------------------------------------- the streamed answer

// Servers send null for what they have none of.
const count = z.number().nonnegative().nullish();
export const usageSchema = z.looseObject({
  prompt_tokens: count,
  completion_tokens: count,
  prompt_tokens_details: z.looseObject({ cached_tokens: count }).nullish(),
});
export type Usage = z.infer<typeof usageSchema>;

/** A fragment of a tool call: the first of a call has its id and name, the others more arguments. */
const toolCallDeltaSchema = z.looseObject({
  index: z.number().int().nonnegative().nullish(),
  id: z.string().nullish(),
  function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});
export type ToolCallDelta = z.infer<typeof toolCallDeltaSchema>;

const choiceSchema = z.looseObject({
  index: z.number().int().nullish(),
  delta: z
    .looseObject({
      content: z.string().nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(toolCallDeltaSchema).nullish(),
    })
    .nullish(),
  finish_reason: z.string().nullish(),
});

/** One `chat.completion.chunk`; the last one (with `include_usage`) has no choices and the usage. */
export const chunkSchema = z.looseObject({
  id: z.string().nullish(),
  created: z.number().nullish(),
  model: z.string().nullish(),
  system_fingerprint: z.string().nullish(),
  choices: z.array(choiceSchema).nullish(),
  usage: usageSchema.nullish(),
});
export type Chunk = z.infer<typeof chunkSchema>;
