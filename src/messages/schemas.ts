import { z } from 'zod';

// The Anthropic Messages API as clients send it (`@anthropic-ai/sdk`, Claude Code). Objects are loose:
// fields the gateway does not read (`cache_control`, `citations`, `defer_loading`…) are accepted and ignored.

// ---------------------------------------------------------------- request

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string() });

/** The image types the Messages API takes. */
export const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] as const;
const imageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('base64'), media_type: z.enum(IMAGE_MEDIA_TYPES), data: z.string().min(1) }),
    z.looseObject({ type: z.literal('url'), url: z.string().min(1) }),
  ]),
});

const toolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.unknown(),
});

const toolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.union([textBlock, imageBlock]))]).optional(),
  is_error: z.boolean().optional(),
});

/** Thinking from an earlier answer, which clients send back: accepted, and left out of the conversation. */
const thinkingBlock = z.looseObject({ type: z.enum(['thinking', 'redacted_thinking']) });
/** Every other block type (documents, server tool results…) is a 400 naming its `type`. */
export const contentBlockSchema = z.discriminatedUnion('type', [textBlock, imageBlock, toolUseBlock, toolResultBlock, thinkingBlock]);
export type ContentBlock = z.infer<typeof contentBlockSchema>;
export type TextBlock = z.infer<typeof textBlock>;
export type ImageBlock = z.infer<typeof imageBlock>;
export type ToolResultBlock = z.infer<typeof toolResultBlock>;

/**
 * A string is one text block. Normalized before the check rather than a union, so that a bad block
 * gets a 400 naming its own field (a union would name only the content).
 */
const content = z.preprocess((v) => (typeof v === 'string' ? [{ type: 'text', text: v }] : v), z.array(contentBlockSchema));

/** Claude Code also sends `role: "system"` entries (its environment), sometimes with no content at all. */
export const messageParamSchema = z.looseObject({ role: z.enum(['user', 'assistant', 'system']), content });
export type MessageParam = z.infer<typeof messageParamSchema>;

/** A client tool; one with a `type` other than `custom` is a server tool (web search…), which the gateway does not run. */
const tool = z.looseObject({
  type: z.string().nullish(),
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
});

const noParallel = { disable_parallel_tool_use: z.boolean().optional() };
const toolChoice = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('auto'), ...noParallel }),
  z.looseObject({ type: z.literal('any'), ...noParallel }),
  z.looseObject({ type: z.literal('tool'), name: z.string().min(1), ...noParallel }),
  z.looseObject({ type: z.literal('none') }),
]);

const system = z.union([z.string(), z.array(textBlock)]);

/** What `count_tokens` takes: a message request without `max_tokens` or `stream`. */
export const countTokensRequestSchema = z.looseObject({
  model: z.string().min(1).max(200),
  system: system.optional(),
  messages: z.array(messageParamSchema).min(1),
  tools: z.array(tool).max(512).optional(),
  tool_choice: toolChoice.optional(),
  // Accepted and ignored, as in a message request.
  thinking: z.unknown().optional(),
});
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;

export const messagesRequestSchema = countTokensRequestSchema.extend({
  max_tokens: z.number().int().min(1),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  stop_sequences: z.array(z.string()).max(64).optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  // Accepted and ignored (README lists them); typed so nonsense still gets a 400.
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  service_tier: z.string().optional(),
  // What Claude Code sends besides: accepted, not interpreted.
  context_management: z.unknown().optional(),
  output_config: z.unknown().optional(),
  betas: z.array(z.string()).optional(),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

// ---------------------------------------------------------------- response

export const stopReasonSchema = z.enum(['end_turn', 'max_tokens', 'tool_use', 'stop_sequence']);
export type StopReason = z.infer<typeof stopReasonSchema>;

export const messageUsageSchema = z.object({
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cache_read_input_tokens: z.number().int(),
  cache_creation_input_tokens: z.number().int(),
});
export type MessageUsage = z.infer<typeof messageUsageSchema>;

const responseTextBlock = z.object({ type: z.literal('text'), text: z.string() });
const responseToolUseBlock = z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() });
export type ResponseBlock = z.infer<typeof responseTextBlock> | z.infer<typeof responseToolUseBlock>;

export const messageSchema = z.object({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(z.union([responseTextBlock, responseToolUseBlock])),
  stop_reason: stopReasonSchema.nullable(),
  stop_sequence: z.string().nullable(),
  usage: messageUsageSchema,
  // The gateway's own.
  session_id: z.string().optional(),
  process_id: z.string().optional(),
});
export type Message = z.infer<typeof messageSchema>;

/** Anthropic's error object: `{"type":"error","error":{"type","message"}}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}
