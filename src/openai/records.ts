import { type AnswerEvent, type GatewayEvent, type ProcessRecord, carriesResult } from '../core/process-types.js';
import type { SessionSummary } from '../core/session-summary.js';
import { toChatCompletion, toUsage } from './response.js';
import type { ChatCompletion } from './schemas.js';

/**
 * A process as clients see it: its answer, once there, is the `chat.completion`; what its front door
 * keeps with it (`meta`) is that front door's to show.
 */
export type ProcessObject = Omit<ProcessRecord, 'result' | 'meta'> & { result: ChatCompletion | null };

/** An event of `/v1/events` as clients see it: `result`, where it has one, is the `chat.completion`. */
export type EventMessage = Exclude<GatewayEvent, AnswerEvent> | Rendered<AnswerEvent>;
type Rendered<E> = E extends AnswerEvent ? Omit<E, 'result'> & { result?: ChatCompletion } : never;

// Spread, then replaced: every other field (and the field order) stays as it is.
export function toProcessObject({ meta: _meta, ...record }: ProcessRecord): ProcessObject {
  return { ...record, result: record.result && toChatCompletion(record.result) };
}

export function toEventMessage(event: GatewayEvent): EventMessage {
  if (!carriesResult(event)) return event;
  return { ...event, result: event.result && toChatCompletion(event.result) };
}

/** A session as clients see it; `usage` in OpenAI's terms, flat (prompt tokens include cached ones). */
export function toSessionObject(s: SessionSummary) {
  const { prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details } = toUsage(s.usage);
  return {
    id: s.id,
    object: 'session' as const,
    provider: s.provider,
    model: s.model,
    created_at: s.created_at,
    last_active_at: s.last_active_at,
    turns: s.turns,
    usage: { prompt_tokens, completion_tokens, total_tokens, cached_tokens: prompt_tokens_details.cached_tokens },
    cost_usd: s.cost_usd,
  };
}

/** A page of a list route, as OpenAI lists are: the items rendered, with the cursor ids of the page's ends. */
export function toListPage<T extends { id: string }, O>(page: { data: T[]; has_more: boolean }, render: (item: T) => O) {
  const { data, has_more } = page;
  return { object: 'list' as const, data: data.map(render), has_more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
