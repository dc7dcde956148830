import type { UsageEntry } from './ports.js';
import type { ProcessRecord } from './process-types.js';

/**
 * The ledger entry of a process that has just finished: one that completed, or failed after its
 * provider reported usage (it was billed). Prompt tokens count cache reads and writes, as a
 * chat.completion's `prompt_tokens` do; cached tokens are the reads.
 */
export function usageEntry(record: ProcessRecord): UsageEntry | undefined {
  if (record.completed_at === null || !record.result) return undefined;
  if (record.status !== 'completed' && record.status !== 'failed') return undefined;
  const u = record.result.usage;
  return {
    process_id: record.id,
    finished_at: record.completed_at,
    key_id: record.key_id,
    model: record.model,
    prompt_tokens: u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens,
    completion_tokens: u.outputTokens,
    cached_tokens: u.cacheReadTokens,
    cost_usd: record.cost_usd,
  };
}
