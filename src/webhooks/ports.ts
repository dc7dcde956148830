/**
 * What the webhook dispatcher keeps across restarts, behind one port: the JSONL files in DATA_DIR
 * today (src/stores/jsonl/webhook-store.ts), another store (Redis) later without touching delivery.
 */
import type { EventType } from '../core/process-types.js';

/** One event to post to one URL. Its retries send the same body, signature and delivery id. */
export interface Delivery {
  /** The `x-gateway-delivery` header: unique per event and URL. */
  id: string;
  url: string;
  /** The `x-gateway-event` header. */
  event_type: EventType;
  /** The event's seq. */
  seq: number;
  process_id: string;
  key_id: string | null;
  /** The exact bytes posted (and signed): the event as `/v1/events` sends it. */
  body: string;
  /** Unix seconds. */
  queued_at: number;
}

/** One try that did not end in a 2xx. */
export interface FailedAttempt {
  /** Unix seconds. */
  at: number;
  /** `HTTP 500`, `timed out after 10000 ms`, `ECONNREFUSED`… */
  error: string;
  /** The HTTP status, when the receiver answered. */
  status?: number;
}

/** A delivery still to make, with the tries it already had (a restart does not start them over). */
export interface PendingDelivery extends Delivery {
  failures: FailedAttempt[];
}

/** A delivery given up on: its tries ran out, or its URL had too many waiting. The line of the dead-letter file. */
export interface DeadLetter extends PendingDelivery {
  /** Unix seconds. */
  dead_at: number;
  /** Why it was given up on. */
  reason: 'attempts_exhausted' | 'queue_full' | 'not_configured';
  last_error: string;
}

/**
 * Where deliveries are kept until they are settled. Each call is recorded in call order; a delivery
 * is settled by `delivered` or `dead`, after which it is no longer part of the backlog.
 */
export interface WebhookStore {
  /** What the previous run left pending, in the order queued; compacts what it keeps. Called once, before anything else. */
  open(): Promise<PendingDelivery[]>;
  queued(delivery: Delivery): Promise<void>;
  failed(id: string, attempt: FailedAttempt): Promise<void>;
  delivered(id: string): Promise<void>;
  /** Keeps the letter (`webhooks-dead.jsonl`) and settles the delivery. */
  dead(letter: DeadLetter): Promise<void>;
  close(): Promise<void>;
}

/** The dispatcher's counters since start, for a metrics adapter (`gateway_webhook_deliveries_total`). */
export interface WebhookStats {
  /** Deliveries that got a 2xx. */
  delivered: number;
  /** Attempts that did not (each retry that failed counts). */
  failed: number;
  /** Deliveries given up on: written to the dead-letter file. */
  dead: number;
  /** Deliveries waiting or in flight now. */
  pending: number;
}

/** What a try ended in, as a metrics adapter counts it: a 2xx, a failure tried again, a delivery given up on. */
export type WebhookOutcome = 'delivered' | 'retried' | 'dead_lettered';

/** Told of each outcome as it happens (the Prometheus adapter's `webhookDelivery`). */
export interface WebhookMetrics {
  webhookDelivery(outcome: WebhookOutcome): void;
}
