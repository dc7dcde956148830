import type { GatewayEvent } from './process-types.js';

/** The newest `retention` events in seq order, for `since` replays. */
export class RetainedEvents {
  private readonly events: GatewayEvent[];

  constructor(
    private readonly retention: number,
    history: readonly GatewayEvent[] = [],
  ) {
    this.events = retention > 0 ? history.slice(-retention) : [];
  }

  push(event: GatewayEvent): void {
    if (this.retention === 0) return;
    this.events.push(event);
    // Trimmed in batches: shifting one element per event would make every push O(retention).
    if (this.events.length > this.retention * 1.25 + 16) this.events.splice(0, this.events.length - this.retention);
  }

  /** Retained events with a seq above `seq`, oldest first. */
  since(seq: number): GatewayEvent[] {
    let lo = Math.max(0, this.events.length - this.retention); // past the untrimmed excess
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }
}
