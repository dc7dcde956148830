import { withoutInternal } from '../event-bus.js';
import { type BusEvent, type GatewayEvent, gatewayEventSchema } from '../process-types.js';
import { appendJsonl, readJsonl, rewriteJsonl } from './jsonl-file.js';

/**
 * The bus's events on disk, so `seq` keeps increasing and `since` replays survive a restart.
 * Compacted at start to the retained tail.
 */
export class EventLog {
  readonly history: GatewayEvent[];

  constructor(
    private readonly file: string,
    retention: number,
  ) {
    const events: GatewayEvent[] = [];
    for (const line of readJsonl(file)) {
      const parsed = gatewayEventSchema.safeParse(line);
      if (parsed.success) events.push(parsed.data);
    }
    // Keep at least the newest event, so seq never goes back even with retention 0.
    this.history = events.slice(-Math.max(retention, 1));
    rewriteJsonl(file, this.history);
  }

  append(event: BusEvent): void {
    appendJsonl(this.file, withoutInternal(event));
  }
}
