import type { BusEvent, GatewayEvent, NewEvent } from './process-types.js';
import { RetainedEvents } from './retained-events.js';

/** Subscribers get the event as it goes on the wire (the same object, replayed or live). */
type Listener = (event: GatewayEvent) => void;
/** Persistence (the storage ports): may answer later; the event waits for it. */
type Recorder = (event: BusEvent) => Promise<void> | void;

export interface PublishOptions {
  /**
   * For an event that reports a failure, which must reach everyone even if it cannot be recorded:
   * recorder errors are then passed to the error callback instead of thrown.
   */
  bestEffort?: boolean;
}

/**
 * The one source of lifecycle events. Recorders (event log, session logs, process records) have
 * each event first, one after the other, then subscribers (WebSocket clients), synchronously and
 * in order; events go through one at a time in seq order, however late the recorders answer, so
 * everyone sees the same events in the same order, and a record exists before anyone is told of
 * it. The last `retention` events told are kept for `since` replays.
 */
export class EventBus {
  private readonly recorders: Recorder[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly retained: RetainedEvents;
  private seq: number;
  /** The last event on its way: the next one goes after it. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    retention: number,
    history: GatewayEvent[] = [],
    private readonly onListenerError: (err: unknown) => void = () => {},
  ) {
    this.retained = new RetainedEvents(retention, history);
    this.seq = history.reduce((max, e) => Math.max(max, e.seq), 0);
  }

  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Publishes an event (numbered now) and resolves once everyone has it. A recorder that fails (the
   * record could not be written) stops it: nobody else is told, and the publisher gets the error, so
   * it never reports what was not recorded.
   */
  publish(event: NewEvent, opts: PublishOptions = {}): Promise<BusEvent> {
    const full = { ...event, seq: ++this.seq } as BusEvent;
    const published = this.tail.then(() => this.deliver(full, opts));
    this.tail = published.catch(() => undefined);
    return published;
  }

  private async deliver(full: BusEvent, opts: PublishOptions): Promise<BusEvent> {
    for (const record of this.recorders) {
      try {
        await record(full);
      } catch (err) {
        if (!opts.bestEffort) throw err;
        this.onListenerError(err);
      }
    }
    const wire = withoutInternal(full);
    this.retained.push(wire);
    for (const listener of this.listeners) {
      try {
        listener(wire);
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return full;
  }

  /** Adds a recorder: persistence, whose failure is the publisher's (see publish). */
  record(recorder: Recorder): void {
    this.recorders.push(recorder);
  }

  /** Adds a subscriber, whose errors are its own: logged, never the publisher's. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Retained events with a seq above `seq`, oldest first. */
  since(seq: number): GatewayEvent[] {
    return this.retained.since(seq);
  }
}

export function withoutInternal(event: BusEvent): GatewayEvent {
  const { internal: _internal, ...wire } = event;
  return wire;
}
