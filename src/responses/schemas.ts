import { z } from 'zod';

// The OpenAI Responses API (`POST /v1/responses`) as the gateway reads it. Shapes follow the
// official `openai` SDK's types (resources/responses/responses.d.ts); fields the gateway cannot
// honour and that would change the answer (`prompt`, `conversation`, hosted tools) are 400s that
// name them, the others are accepted and ignored (README lists them).

// ---------------------------------------------------------------- input items

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const outputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
const inputImage = z.looseObject({
  type: z.literal('input_image'),
  /** A URL (`https:`) or a `data:` URL; uploaded files (`file_id`) are not supported. */
  image_url: z.string().min(1, 'an image needs an image_url (uploaded files are not supported)'),
  detail: z.enum(['low', 'high', 'auto', 'original']).nullish(),
});
const refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const contentPart = z.discriminatedUnion('type', [inputText, outputText, inputImage, refusal]);
export type ContentPart = z.infer<typeof contentPart>;

/** A string content is one text part: `input_text` from the client, `output_text` of an assistant. */
const content = (textType: 'input_text' | 'output_text') =>
  z.preprocess((v) => (typeof v === 'string' ? [{ type: textType, text: v }] : v), z.array(contentPart));

const itemStatus = z.enum(['in_progress', 'completed', 'incomplete']).nullish();
const itemId = z.string().max(256).nullish();

const inputMessage = z.looseObject({
  type: z.literal('message'),
  id: itemId,
  role: z.enum(['user', 'system', 'developer']),
  content: content('input_text'),
  status: itemStatus,
});
const outputMessage = z.looseObject({
  type: z.literal('message'),
  id: itemId,
  role: z.literal('assistant'),
  content: content('output_text'),
  status: itemStatus,
});
const message = z.discriminatedUnion('role', [inputMessage, outputMessage]);

const functionCall = z.looseObject({
  type: z.literal('function_call'),
  id: itemId,
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  status: itemStatus,
});

const functionCallOutput = z.looseObject({
  type: z.literal('function_call_output'),
  id: itemId,
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(contentPart)]),
  status: itemStatus,
});

const inputItem = z.preprocess(
  // An item with a role and no type is a message (EasyInputMessage).
  (v) => (isObject(v) && v.type === undefined && 'role' in v ? { ...v, type: 'message' } : v),
  z.discriminatedUnion('type', [message, functionCall, functionCallOutput]),
);
export type InputItem = z.infer<typeof inputItem>;

/** `input` as a list of items: a string is one user message. */
export const inputSchema = z.preprocess(
  (v) => (typeof v === 'string' ? [{ type: 'message', role: 'user', content: v }] : v),
  z.array(inputItem).min(1).max(10_000),
);

// ---------------------------------------------------------------- tools, formats

export const functionToolSchema = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1).max(64),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type FunctionToolParam = z.infer<typeof functionToolSchema>;

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), name: z.string().min(1) }),
]);
export type ToolChoiceParam = z.infer<typeof toolChoice>;

const textFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    description: z.string().nullish(),
    // Checked and compiled before the run, then sent in the CLI's initialize request: kept small.
    schema: z.record(z.string(), z.unknown()).refine((v) => JSON.stringify(v).length <= 64 * 1024, 'must be at most 64 KiB as JSON'),
    strict: z.boolean().nullish(),
  }),
]);
export type TextFormat = z.infer<typeof textFormat>;

const textConfig = z.looseObject({
  format: textFormat.nullish(),
  verbosity: z.enum(['low', 'medium', 'high']).nullish(),
});

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
const reasoning = z.looseObject({
  effort: z.enum(REASONING_EFFORTS).nullish(),
  summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
  generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
});

/** Metadata as OpenAI bounds it: 16 pairs, keys of 64 and values of 512 characters at most. */
const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 key-value pairs');

/** The id of a response: `resp_` and the 32 hex digits of its process. */
export const RESPONSE_ID = /^resp_[0-9a-f]{32}$/;

/** Any integer, as JSON Schema's `integer`. */
const wholeNumber = z.number().refine(Number.isInteger, 'expected an integer');

/** Fields of OpenAI's API the gateway cannot honour, and that would change the answer if ignored. */
const unsupported = (what: string) => z.unknown().refine((v) => v == null, `${what} is not supported by this gateway`).optional();

export const createResponseRequestSchema = z.looseObject({
  model: z.string().min(1).max(200),
  input: inputSchema,
  instructions: z.string().nullish(),
  tools: z.array(z.discriminatedUnion('type', [functionToolSchema])).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: textConfig.nullish(),
  reasoning: reasoning.nullish(),
  max_output_tokens: wholeNumber.min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  metadata: metadata.nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  previous_response_id: z.string().max(200).nullish(),
  user: z.string().nullish(),
  // Accepted and ignored (README lists them); typed so nonsense still gets a 400.
  truncation: z.enum(['auto', 'disabled']).nullish(),
  include: z.array(z.string()).nullish(),
  service_tier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  prompt_cache_retention: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  top_logprobs: wholeNumber.min(0).max(20).nullish(),
  max_tool_calls: wholeNumber.min(1).nullish(),
  stream_options: z.looseObject({ include_obfuscation: z.boolean().nullish() }).nullish(),
  // Refused: reusable prompts and the Conversations API have no equivalent here.
  prompt: unsupported('prompt'),
  conversation: unsupported('conversation (use previous_response_id)'),
});
export type CreateResponseRequest = z.infer<typeof createResponseRequestSchema>;

/** `GET /v1/responses/{id}` query: `?stream=true&starting_after=N` replays the events after N. */
export const retrieveQuerySchema = z.object({
  stream: z.enum(['true', 'false']).optional(),
  starting_after: z.coerce.number().int().min(-1).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
  include_obfuscation: z.string().optional(),
});

/** `GET /v1/responses/{id}/input_items` query (OpenAI's: newest first unless `order=asc`). */
export const inputItemsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().max(300).optional(),
  include: z.union([z.string(), z.array(z.string())]).optional(),
});
export type InputItemsQuery = z.infer<typeof inputItemsQuerySchema>;

// ---------------------------------------------------------------- what a response keeps

/**
 * What a response keeps on its process record (Job.meta, never shown on /v1/processes): what
 * `GET /v1/responses/{id}` echoes, what `input_items` lists and what a fork replays.
 */
export const responseMetaSchema = z.object({
  object: z.literal('response'),
  instructions: z.string().nullable(),
  input: z.array(inputItem),
  previous_response_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  tools: z.array(functionToolSchema),
  tool_choice: toolChoice,
  parallel_tool_calls: z.boolean(),
  text: textConfig,
  reasoning: reasoning.nullable(),
  temperature: z.number().nullable(),
  top_p: z.number().nullable(),
  max_output_tokens: z.number().nullable(),
  store: z.boolean(),
  background: z.boolean(),
  user: z.string().nullable(),
});
export type ResponseMeta = z.infer<typeof responseMetaSchema>;
