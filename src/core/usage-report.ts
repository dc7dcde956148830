import { z } from 'zod';
import type { UsageEntry } from './ports.js';

export const usageDimensionSchema = z.enum(['key', 'model', 'day']);
export type UsageDimension = z.infer<typeof usageDimensionSchema>;

/** One group's sums; the fields of the dimensions not grouped by are absent. */
export interface UsageRow {
  key_id?: string | null;
  model?: string;
  /** `YYYY-MM-DD`, UTC. */
  day?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** The sum of the known costs; null when no entry of the group had one. */
  cost_usd: number | null;
}

const utcDay = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 10);

/** The entries summed by the given dimensions (none: one row of totals, even of nothing), sorted by them. */
export function summarizeUsage(entries: UsageEntry[], groupBy: readonly UsageDimension[]): UsageRow[] {
  const by = new Set(groupBy);
  const rows = new Map<string, UsageRow>();
  if (by.size === 0) rows.set(groupId({}), emptyRow({}));
  for (const e of entries) {
    const dims: Pick<UsageRow, 'key_id' | 'model' | 'day'> = {};
    if (by.has('key')) dims.key_id = e.key_id;
    if (by.has('model')) dims.model = e.model;
    if (by.has('day')) dims.day = utcDay(e.finished_at);
    const id = groupId(dims);
    let row = rows.get(id);
    if (!row) rows.set(id, (row = emptyRow(dims)));
    row.requests++;
    row.prompt_tokens += e.prompt_tokens;
    row.completion_tokens += e.completion_tokens;
    row.cached_tokens += e.cached_tokens;
    if (e.cost_usd !== null) row.cost_usd = (row.cost_usd ?? 0) + e.cost_usd;
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** Sorts as key, then model, then day. */
const groupId = (dims: Pick<UsageRow, 'key_id' | 'model' | 'day'>): string => JSON.stringify([dims.key_id, dims.model, dims.day]);

function emptyRow(dims: Pick<UsageRow, 'key_id' | 'model' | 'day'>): UsageRow {
  return { ...dims, requests: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_usd: null };
}
