/**
 * The Anthropic Messages API's shapes, as far as the provider sends and reads them: the request body
 * (`POST /v1/messages`) and the events of its `stream: true` answer.
 */
import { z } from 'zod';

// ---------------------------------------------------------------- the request body

const cacheControl = z.object({ type: z.literal('ephemeral') });

const textBlockSchema = z.object({ type: z.literal('text'), text: z.string(), cache_control: cacheControl.optional() });
const imageBlockSchema = z.object({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.object({ type: z.literal('url'), url: z.string() }),
  ]),
  cache_control: cacheControl.optional(),
});
const toolUseBlockSchema = z.object({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl.optional(),
});
const toolResultBlockSchema = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z.array(z.discriminatedUnion('type', [textBlockSchema, imageBlockSchema])),
  cache_control: cacheControl.optional(),
});
const contentBlockSchema = z.discriminatedUnion('type', [textBlockSchema, imageBlockSchema, toolUseBlockSchema, toolResultBlockSchema]);
export type TextBlock = z.infer<typeof textBlockSchema>;
export type ImageBlock = z.infer<typeof imageBlockSchema>;

const messageParamSchema = z.object({ role: z.enum(['user', 'assistant']), content: z.array(contentBlockSchema) });
export type MessageParam = z.infer<typeof messageParamSchema>;

const toolSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
  cache_control: cacheControl.optional(),
});
export type Tool = z.infer<typeof toolSchema>;

const noParallel = { disable_parallel_tool_use: z.boolean().optional() };
const toolChoiceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), ...noParallel }),
  z.object({ type: z.literal('any'), ...noParallel }),
  z.object({ type: z.literal('tool'), name: z.string(), ...noParallel }),
  z.object({ type: z.literal('none') }),
]);
export type ToolChoice = z.infer<typeof toolChoiceSchema>;

export const messagesBodySchema = z.object({
  model: z.string(),
  max_tokens: z.number().int().positive(),
  system: z.array(textBlockSchema).optional(),
  messages: z.array(messageParamSchema),
  tools: z.array(toolSchema).optional(),
  tool_choice: toolChoiceSchema.optional(),
  temperature: z.number().optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.literal(true),
});
export type MessagesBody = z.infer<typeof messagesBodySchema>;

// ---------------------------------------------------------------- the streamed answer

// The API sends null for counts it has none of.
const count = z.number().nonnegative().nullish();
export const usageSchema = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_read_input_tokens: count,
  cache_creation_input_tokens: count,
});
export type Usage = z.infer<typeof usageSchema>;

export const apiErrorSchema = z.looseObject({ type: z.string(), message: z.string().optional() });
export type ApiError = z.infer<typeof apiErrorSchema>;

/** A content block as `content_block_start` opens it; its fields grow with the deltas. */
const startedBlockSchema = z.looseObject({ type: z.string(), id: z.string().optional(), name: z.string().optional() });

const deltaSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text_delta'), text: z.string() }),
  z.looseObject({ type: z.literal('input_json_delta'), partial_json: z.string() }),
  z.looseObject({ type: z.literal('thinking_delta'), thinking: z.string() }),
  z.looseObject({ type: z.literal('signature_delta'), signature: z.string() }),
]);

/** The events of a streamed message; others (new delta kinds, say) are skipped as the API asks. */
export const streamEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message_start'),
    message: z.looseObject({ id: z.string(), model: z.string().optional(), usage: usageSchema.optional() }),
  }),
  z.object({ type: z.literal('content_block_start'), index: z.number(), content_block: startedBlockSchema }),
  z.object({ type: z.literal('content_block_delta'), index: z.number(), delta: z.looseObject({ type: z.string() }) }),
  z.object({ type: z.literal('content_block_stop'), index: z.number() }),
  z.object({
    type: z.literal('message_delta'),
    delta: z.looseObject({ stop_reason: z.string().nullish(), stop_sequence: z.string().nullish() }),
    usage: usageSchema.optional(),
  }),
  z.object({ type: z.literal('message_stop') }),
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('error'), error: apiErrorSchema }),
]);
export type StreamEvent = z.infer<typeof streamEventSchema>;

/** A content block delta of a kind the provider reads, or undefined. */
export function knownDelta(delta: unknown): z.infer<typeof deltaSchema> | undefined {
  const parsed = deltaSchema.safeParse(delta);
  return parsed.success ? parsed.data : undefined;
}
