import { withoutInternal } from '../../core/event-bus.js';
import { type BusEvent, type GatewayEvent, gatewayEventSchema } from '../../core/process-types.js';
import type { JsonlFiles } from './jsonl-file.js';

/**
 * The bus's events on disk, so `seq` keeps increasing and `since` replays survive a restart.
 * Compacted at start to the retained tail. A completion's `result` is not written again here: the
 * process store holds it, and `resultOf` puts it back when the history is read.
 */
export class EventLog {
  readonly history: GatewayEvent[];

  constructor(
    private readonly file: string,
    retention: number,
    resultOf: (processId: string) => GatewayEvent['result'] | undefined,
    private readonly files: JsonlFiles,
  ) {
    const events = files.load(file, gatewayEventSchema);
    // Keep at least the newest event, so seq never goes back even with retention 0.
    const kept = events.slice(-Math.max(retention, 1));
    files.rewrite(file, kept);
    this.history = kept.map((e) => (carriesResult(e) ? { ...e, result: resultOf(e.process_id) } : e));
  }

  append(event: BusEvent): void {
    const { result: _result, ...rest } = withoutInternal(event);
    this.files.append(this.file, rest, 'the event log');
  }
}

/** The events that carry the completion (when there is one) on the wire. */
function carriesResult(e: GatewayEvent): boolean {
  return e.type === 'PROCESS_COMPLETE' || e.type === 'PROCESS_REQUIRES_ACTION';
}
