import type { EventBus } from './event-bus.js';
import type { BusEvent, ProcessRecord } from './process-types.js';
import { usageEntry } from './usage-entry.js';

/** A process that has ended, as the metrics count it. */
export interface FinishedProcess {
  /** The front door it came through (`chat_completions`, `responses`, `messages`…), or `other`. */
  frontDoor: string;
  /** The model as the client asked for it (the adapter bounds it). */
  model: string;
  /** The provider of the last target tried; `none` when none was. */
  provider: string;
  keyId: string | null;
  status: 'completed' | 'failed' | 'cancelled';
  /** From its start to its end; undefined for one that never started. */
  runSeconds?: number;
  /** What it used, when its provider reported usage (prompt tokens include cache reads and writes; cached: the reads). */
  tokens?: { prompt: number; completion: number; cached: number };
  /** USD, null when the price is unknown. */
  costUsd: number | null;
}

/**
 * What the core tells the metrics (a port: the adapter, src/metrics/, knows Prometheus). Most of it
 * follows from the bus's events (observeEvents); the manager and the facade call the rest directly,
 * where no event carries it. Label values (models, targets) come as they are: bounding them is the
 * adapter's job. Never given a process or session id.
 */
export interface GatewayMetrics {
  /** The front door whose request is being served in the current call chain, if the adapter knows it. */
  frontDoor(): string | undefined;
  /** A process started, after waiting `queuedSeconds` in the queue. */
  processStarted(model: string, queuedSeconds: number): void;
  processFinished(process: FinishedProcess): void;
  /** A run's first output (a delta, a tool call, or its whole answer), `seconds` after it started. */
  firstToken(model: string, seconds: number): void;
  /** A target failed and is tried again. */
  retried(target: string): void;
  /** A target failed and the next one takes over. */
  fellBack(from: string, to: string): void;
  /** A target failed often enough in a row to be skipped for a while. */
  cooledDown(target: string): void;
  /** A lookup in the response cache. */
  cacheLookup(model: string, hit: boolean): void;
  /** A provider's try failed (`kind`: a ProviderErrorKind). */
  upstreamError(provider: string, kind: string): void;
}

const noop = () => undefined;

/** Metrics off. */
export const NO_METRICS: GatewayMetrics = Object.freeze({
  frontDoor: noop,
  processStarted: noop,
  processFinished: noop,
  firstToken: noop,
  retried: noop,
  fellBack: noop,
  cooledDown: noop,
  cacheLookup: noop,
  upstreamError: noop,
});

/**
 * Counts what the bus's events carry: starts (queue wait), ends (status, run time, tokens, cost),
 * retries and fallbacks. A recorder, for the records the events lead to, registered after the
 * stores' (what is counted was recorded); it never fails an event.
 */
export function observeEvents(bus: EventBus, metrics: GatewayMetrics, onError: (err: unknown) => void): void {
  /** The front door of each process not finished yet, noted when it was queued (in its submitter's call chain). */
  const frontDoors = new Map<string, string>();
  bus.record((e) => {
    try {
      count(e);
    } catch (err) {
      onError(err);
    }
  });

  function count(e: BusEvent): void {
    const record = e.internal?.record;
    switch (e.type) {
      case 'PROCESS_QUEUED':
        frontDoors.set(e.process_id, metrics.frontDoor() ?? 'other');
        break;
      case 'PROCESS_STARTED':
        if (record?.started_at != null) metrics.processStarted(e.model, Math.max(0, record.started_at - record.created_at));
        break;
      case 'PROCESS_RETRY':
        if (e.next_target === e.target) metrics.retried(e.target);
        else metrics.fellBack(e.target, e.next_target);
        break;
      case 'PROCESS_COMPLETE': {
        const frontDoor = frontDoors.get(e.process_id) ?? 'other';
        frontDoors.delete(e.process_id);
        metrics.processFinished(finished(e.model, e.key_id, e.status, frontDoor, record));
        break;
      }
      default:
        break;
    }
  }
}

function finished(model: string, keyId: string | null, status: FinishedProcess['status'], frontDoor: string, record?: ProcessRecord): FinishedProcess {
  const target = record?.attempts.at(-1)?.target;
  const usage = record && usageEntry(record);
  const started = record?.started_at ?? null;
  const ended = record?.completed_at ?? null;
  return {
    frontDoor,
    model,
    // Target names are `<provider>/<model>`.
    provider: target?.split('/')[0] ?? 'none',
    keyId,
    status,
    runSeconds: started !== null && ended !== null ? Math.max(0, ended - started) : undefined,
    tokens: usage ? { prompt: usage.prompt_tokens, completion: usage.completion_tokens, cached: usage.cached_tokens } : undefined,
    costUsd: record?.cost_usd ?? null,
  };
}
