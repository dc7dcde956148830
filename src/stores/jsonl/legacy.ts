import { z } from 'zod';
import { fromChatCompletion } from '../../openai/response.js';
import { chatCompletionSchema } from '../../openai/schemas.js';

/** An answer as files written before results were kept neutral hold it: the rendered chat.completion. */
const legacyResultSchema = chatCompletionSchema.transform(fromChatCompletion);

/**
 * `schema`, reading also lines whose `result` is in that older format: the answer is read back
 * neutral (and so rewritten at start's compaction).
 */
export function readingLegacyResults<S extends z.ZodType>(schema: S) {
  return z.preprocess((line) => {
    if (typeof line !== 'object' || line === null || !('result' in line)) return line;
    const legacy = legacyResultSchema.safeParse(line.result);
    return legacy.success ? { ...line, result: legacy.data } : line;
  }, schema);
}
