import { z } from 'zod';

// ---------------------------------------------------------------- request

const textPart = z.object({ type: z.literal('text'), text: z.string() });
/** Parts other than text are read (images) or named in a 400 by the mapper, so they pass the schema here. */
const anyPart = z.looseObject({ type: z.string() });
/** An image part, as the mapper reads one. */
export const imageUrlPartSchema = z.object({ type: z.literal('image_url'), image_url: z.looseObject({ url: z.string() }) });
const content = z.union([z.string(), z.array(z.union([textPart, anyPart]))]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});

export const chatMessageSchema = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content, name: z.string().optional() }),
  z.looseObject({ role: z.literal('developer'), content, name: z.string().optional() }),
  z.looseObject({ role: z.literal('user'), content, name: z.string().optional() }),
  z.looseObject({
    role: z.literal('assistant'),
    content: content.nullish(),
    name: z.string().optional(),
    tool_calls: z.array(toolCall).optional(),
    refusal: z.string().nullish(),
  }),
  z.looseObject({ role: z.literal('tool'), content, tool_call_id: z.string() }),
]);
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const functionToolSchema = z.object({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1).max(64),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string().min(1).max(64),
      description: z.string().optional(),
      // Checked and compiled before the run, then sent in the CLI's initialize request: kept small.
      schema: z
        .record(z.string(), z.unknown())
        .refine((v) => JSON.stringify(v).length <= 64 * 1024, 'must be at most 64 KiB as JSON')
        .optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
]);

/**
 * Patterns like `Bash`, `Bash(git *)`, `mcp__srv__tool`: a strict grammar, since they become CLI
 * arguments; no commas, which the CLI reads as separators between rules.
 */
export const TOOL_RULE = /^[A-Za-z][A-Za-z0-9_-]{0,63}(?:\([^(),\u0000-\u001f]{1,512}\))?$/;
const toolRule = z.string().regex(TOOL_RULE, 'must be a tool name or a rule like "Bash(git *)"');
/** Any integer, as JSON Schema's `integer` (zod's `.int()` stops at 2^53; clients send int64 seeds). */
const wholeNumber = z.number().refine(Number.isInteger, 'expected an integer');

export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z.array(chatMessageSchema).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  n: z.literal(1, { message: 'only n=1 is supported' }).nullish(),
  tools: z.array(functionToolSchema).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormat.nullish(),
  // Extensions
  session_id: z.uuid({ message: 'must be a UUID' }).nullish(),
  background: z.boolean().nullish(),
  max_turns: z.number().int().min(1).max(1000).nullish(),
  allowed_tools: z.array(toolRule).max(128).nullish(),
  disallowed_tools: z.array(toolRule).max(128).nullish(),
  /** false: the response cache neither answers nor keeps this request. */
  cache: z.boolean().nullish(),
  // Accepted and ignored (README lists them); typed so nonsense still gets a 400.
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: wholeNumber.min(1).nullish(),
  max_completion_tokens: wholeNumber.min(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  seed: wholeNumber.nullish(),
  user: z.string().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  /** The Claude CLI's `--effort` (`minimal` as `low`); passed on by providers that take it. */
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

// ---------------------------------------------------------------- response

export const usageSchema = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int() }),
});
export type Usage = z.infer<typeof usageSchema>;

export const finishReasonSchema = z.enum(['stop', 'length', 'tool_calls']);

export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z.object({
        role: z.literal('assistant'),
        content: z.string().nullable(),
        refusal: z.null(),
        tool_calls: z
          .array(z.object({ id: z.string(), type: z.literal('function'), function: z.object({ name: z.string(), arguments: z.string() }) }))
          .optional(),
      }),
      finish_reason: finishReasonSchema,
      logprobs: z.null(),
    }),
  ),
  usage: usageSchema,
  // No system_fingerprint: OpenAI's schema allows a string or nothing, and there is no backend fingerprint to give.
  session_id: z.string(),
  process_id: z.string(),
  claude_metadata: z.record(z.string(), z.unknown()),
});
export type ChatCompletion = z.infer<typeof chatCompletionSchema>;

export const chatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.number().int(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        role: z.literal('assistant').optional(),
        content: z.string().optional(),
        tool_calls: z
          .array(
            z.object({
              index: z.number().int(),
              id: z.string().optional(),
              type: z.literal('function').optional(),
              function: z.object({ name: z.string().optional(), arguments: z.string() }),
            }),
          )
          .optional(),
      }),
      finish_reason: finishReasonSchema.nullable(),
      logprobs: z.null(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
  session_id: z.string().optional(),
  process_id: z.string().optional(),
  claude_metadata: z.record(z.string(), z.unknown()).optional(),
});
export type ChatCompletionChunk = z.infer<typeof chatCompletionChunkSchema>;

