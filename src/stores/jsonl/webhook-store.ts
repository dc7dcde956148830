import { z } from 'zod';
import { eventTypeSchema } from '../../core/process-types.js';
import type { DeadLetter, Delivery, FailedAttempt, PendingDelivery, WebhookStore } from '../../webhooks/ports.js';
import type { JsonlFiles } from './jsonl-file.js';

const deliverySchema = z.object({
  id: z.string().min(1),
  url: z.string().min(1),
  event_type: eventTypeSchema,
  seq: z.number().int(),
  process_id: z.string(),
  key_id: z.string().nullable(),
  body: z.string(),
  queued_at: z.number(),
});

const attemptSchema = z.object({ at: z.number(), error: z.string(), status: z.number().int().optional() });

/** One line of the pending file: what happened to a delivery. */
const lineSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('queued'), delivery: deliverySchema, failures: z.array(attemptSchema).optional() }),
  z.object({ op: z.literal('failed'), id: z.string(), attempt: attemptSchema }),
  z.object({ op: z.literal('delivered'), id: z.string() }),
  z.object({ op: z.literal('dead'), id: z.string() }),
]);
type Line = z.output<typeof lineSchema>;

/**
 * The webhook backlog as two JSONL files in DATA_DIR (0600, like every file of the gateway):
 * `webhooks-pending.jsonl`, append-only (a line per delivery queued, per failed try and per
 * settlement), compacted at start to the deliveries still pending; and `webhooks-dead.jsonl`, a line
 * per delivery given up on, never rewritten.
 */
export class JsonlWebhookStore implements WebhookStore {
  constructor(
    private readonly pendingFile: string,
    private readonly deadFile: string,
    private readonly files: JsonlFiles,
  ) {}

  async open(): Promise<PendingDelivery[]> {
    const pending = new Map<string, PendingDelivery>();
    for (const line of this.files.load(this.pendingFile, lineSchema)) {
      switch (line.op) {
        case 'queued':
          pending.set(line.delivery.id, { ...line.delivery, failures: line.failures ?? [] });
          break;
        case 'failed':
          pending.get(line.id)?.failures.push(line.attempt);
          break;
        case 'delivered':
        case 'dead':
          pending.delete(line.id);
          break;
      }
    }
    const kept: Line[] = [...pending.values()].map(({ failures, ...delivery }) => ({ op: 'queued', delivery, failures }));
    this.files.rewrite(this.pendingFile, kept);
    return [...pending.values()];
  }

  async queued(delivery: Delivery): Promise<void> {
    this.append({ op: 'queued', delivery });
  }

  async failed(id: string, attempt: FailedAttempt): Promise<void> {
    this.append({ op: 'failed', id, attempt });
  }

  async delivered(id: string): Promise<void> {
    this.append({ op: 'delivered', id });
  }

  async dead(letter: DeadLetter): Promise<void> {
    // The letter first: a crash between the two leaves the delivery pending (tried again), never lost.
    this.files.append(this.deadFile, letter, 'the webhook dead-letter file');
    this.append({ op: 'dead', id: letter.id });
  }

  async close(): Promise<void> {
    this.files.close(this.pendingFile);
    this.files.close(this.deadFile);
  }

  private append(line: Line): void {
    this.files.append(this.pendingFile, line, 'the webhook queue');
  }
}
