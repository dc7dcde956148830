import type { RunEvent } from './run-types.js';

/**
 * One run's events for its one reader (`for await`), ending with the outcome. It holds only what
 * the reader has not taken yet: a reader that writes each event out at once keeps it near empty.
 */
export class RunChannel implements AsyncIterable<RunEvent> {
  private readonly queue: RunEvent[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  /** Adds an event; after the outcome nothing more is taken. */
  push(event: RunEvent): void {
    if (this.closed) return;
    this.closed = event.type === 'outcome';
    this.queue.push(event);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RunEvent> {
    for (;;) {
      const event = this.queue.shift();
      if (!event) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      yield event;
      if (event.type === 'outcome') return;
    }
  }
}
