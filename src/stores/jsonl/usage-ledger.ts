import { visibleTo } from '../../core/ownership.js';
import { type UsageEntry, type UsageLedger, type UsageQuery, usageEntrySchema } from '../../core/ports.js';
import type { JsonlFiles } from './jsonl-file.js';

/**
 * The usage ledger as a JSONL file, one line per finished process, all of it in memory: queries scan
 * it whole, fine at a gateway's scale (a line is ~200 bytes; a million processes, ~200 MB).
 * Never trimmed: unlike process records it is not bounded by retention.
 */
export class JsonlUsageLedger implements UsageLedger {
  private readonly entries: UsageEntry[];

  constructor(
    private readonly file: string,
    private readonly files: JsonlFiles,
  ) {
    this.entries = files.load(file, usageEntrySchema);
    // Rewritten as the other stores are, so lines set aside as unreadable are reported once.
    files.rewrite(file, this.entries);
  }

  async append(entry: UsageEntry): Promise<void> {
    this.files.append(this.file, entry, 'the usage ledger');
    this.entries.push(entry);
  }

  async query(q: UsageQuery): Promise<UsageEntry[]> {
    return this.entries.filter(
      (e) =>
        visibleTo(q.viewer, e.key_id) &&
        (q.key_id === undefined || e.key_id === q.key_id) &&
        (q.from === undefined || e.finished_at >= q.from) &&
        (q.to === undefined || e.finished_at < q.to),
    );
  }
}
