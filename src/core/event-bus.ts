import type { BusEvent, GatewayEvent } from './process-types.js';

type Listener = (event: BusEvent) => void;

export interface PublishOptions {
  /**
   * For an event that reports a failure, which must reach everyone even if it cannot be recorded:
   * recorder errors are then passed to the error callback instead of thrown.
   */
  bestEffort?: boolean;
}

/**
 * The one source of lifecycle events. Recorders (process store, event log, session logs) are
 * called first, then subscribers (WebSocket clients), synchronously and in order, so everyone sees
 * the same events in the same order; the last `retention` events are kept for `since` replays.
 */
export class EventBus {
  private readonly recorders: Listener[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly retained: GatewayEvent[];
  private seq: number;

  constructor(
    private readonly retention: number,
    history: GatewayEvent[] = [],
    private readonly onListenerError: (err: unknown) => void = () => {},
  ) {
    this.retained = history.slice(-retention);
    this.seq = history.reduce((max, e) => Math.max(max, e.seq), 0);
  }

  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Publishes an event. A recorder that throws (the record could not be written) stops it: nobody
   * else is told, and the publisher gets the error, so it never reports what was not recorded.
   */
  publish(event: Omit<BusEvent, 'seq'>, opts: PublishOptions = {}): BusEvent {
    const full = { ...event, seq: ++this.seq } as BusEvent;
    for (const record of this.recorders) {
      try {
        record(full);
      } catch (err) {
        if (!opts.bestEffort) throw err;
        this.onListenerError(err);
      }
    }
    if (this.retention > 0) {
      this.retained.push(withoutInternal(full));
      // Trim in batches: shifting one element per event would make every publish O(retention).
      if (this.retained.length > this.retention * 1.25 + 16) this.retained.splice(0, this.retained.length - this.retention);
    }
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return full;
  }

  /** Adds a recorder: persistence, whose failure is the publisher's (see publish). */
  record(recorder: Listener): void {
    this.recorders.push(recorder);
  }

  /** Adds a subscriber, whose errors are its own: logged, never the publisher's. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Retained events with a seq above `seq`, oldest first. */
  since(seq: number): GatewayEvent[] {
    const start = this.retained.length - this.retention;
    let lo = Math.max(0, start);
    let hi = this.retained.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.retained[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.retained.slice(lo);
  }
}

export function withoutInternal(event: BusEvent): GatewayEvent {
  const { internal: _internal, ...wire } = event;
  return wire;
}
