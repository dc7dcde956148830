import type { TokenUsage } from '../../providers/types.js';
import type { SessionEntry } from './ports.js';
import type { ProcessRecord } from './process-types.js';

/** A session as the gateway reports it: its directory entry, and what its retained processes add up to. */
export interface SessionSummary {
  id: string;
  /** The provider that runs it; null only for a session kept before providers were, whose processes are gone. */
  provider: string | null;
  /** The model it started with, as the client named it (null as for `provider`). */
  model: string | null;
  created_at: number;
  /** When its last process was last heard of (its creation when it has none left). */
  last_active_at: number;
  /** Its completed processes. */
  turns: number;
  usage: TokenUsage;
  /** The sum of its processes' `cost_usd`, when every one has a number; else null. */
  cost_usd: number | null;
  /** Its processes' ids, oldest first. */
  processes: string[];
}

/** A process's cost, when its record carries one (records older than costs do not). */
const costOf = (r: ProcessRecord): number | null => ('cost_usd' in r && typeof r.cost_usd === 'number' ? r.cost_usd : null);

/**
 * Sums a session's process records (oldest first). Sessions kept before the directory held their
 * provider and model take them from their first process; `providerOf` names the provider of a model.
 */
export function summarizeSession(entry: SessionEntry, records: ProcessRecord[], providerOf: (model: string) => string | undefined): SessionSummary {
  const model = entry.model ?? records[0]?.model ?? null;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };
  let lastActive = entry.created_at;
  let cost: number | null = records.length ? 0 : null;
  for (const r of records) {
    const u = r.result?.usage;
    if (u) for (const k of Object.keys(usage) as (keyof TokenUsage)[]) usage[k] += u[k];
    lastActive = Math.max(lastActive, r.completed_at ?? r.started_at ?? r.created_at);
    const c = costOf(r);
    cost = cost === null || c === null ? null : cost + c;
  }
  return {
    id: entry.session_id,
    provider: entry.provider ?? (model === null ? undefined : providerOf(model)) ?? null,
    model,
    created_at: entry.created_at,
    last_active_at: lastActive,
    turns: records.filter((r) => r.status === 'completed').length,
    usage,
    cost_usd: cost,
    processes: records.map((r) => r.id),
  };
}
