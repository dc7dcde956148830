import { withoutInternal } from '../../core/event-bus.js';
import type { EventStream } from '../../core/ports.js';
import { type BusEvent, type GatewayEvent, carriesResult, gatewayEventSchema } from '../../core/process-types.js';
import { RetainedEvents } from '../../core/retained-events.js';
import type { RunResult } from '../../core/run-types.js';
import type { JsonlFiles } from './jsonl-file.js';
import { readingLegacyResults } from './legacy.js';

const storedEventSchema = readingLegacyResults(gatewayEventSchema);

/**
 * The events on disk, so `seq` keeps increasing and `since` replays survive a restart; the retained
 * ones in memory. Compacted at start to the retained tail. A completion's `result` is not written
 * again here: the process record holds it, and `resultOf` puts it back when the file is read.
 */
export class JsonlEventStream implements EventStream {
  private readonly retained: RetainedEvents;

  constructor(
    private readonly file: string,
    retention: number,
    resultOf: (processId: string) => RunResult | undefined,
    private readonly files: JsonlFiles,
  ) {
    // At least the newest event is kept, so seq never goes back even with retention 0.
    const keep = Math.max(retention, 1);
    const kept = files.load(file, storedEventSchema).slice(-keep);
    files.rewrite(file, kept);
    this.retained = new RetainedEvents(
      keep,
      kept.map((e) => (carriesResult(e) ? { ...e, result: resultOf(e.process_id) } : e)),
    );
  }

  async append(event: BusEvent): Promise<void> {
    const wire = withoutInternal(event);
    // Undefined, so JSON leaves it out: the answer is the process record's to keep.
    this.files.append(this.file, carriesResult(wire) ? { ...wire, result: undefined } : wire, 'the event log');
    this.retained.push(wire);
  }

  async since(seq: number): Promise<GatewayEvent[]> {
    return this.retained.since(seq);
  }
}
