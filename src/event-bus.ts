import type { BusEvent, GatewayEvent } from './process-types.js';

type Listener = (event: BusEvent) => void;

/**
 * The one source of lifecycle events. Subscribers (process store, session logs, event log,
 * WebSocket clients) are called synchronously in subscription order, so they all see the same
 * events in the same order; the last `retention` events are kept for `since` replays.
 */
export class EventBus {
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

  publish(event: Omit<BusEvent, 'seq'>): BusEvent {
    const full = { ...event, seq: ++this.seq } as BusEvent;
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
