import { visibleTo } from '../../core/ownership.js';
import type { ListQuery, ProcessPage, ProcessRecords } from '../../core/ports.js';
import { type ProcessRecord, TERMINAL, processRecordSchema } from '../../core/process-types.js';
import type { JsonlFiles } from './jsonl-file.js';
import { readingLegacyResults } from './legacy.js';
import { pageAfter } from './page.js';

const storedRecordSchema = readingLegacyResults(processRecordSchema);

/**
 * Process records as snapshots in an append-only JSONL file (the last snapshot of a process wins
 * when read back), all of them in memory. Compacted at start, bounded to `retention` records.
 */
export class JsonlProcessRecords implements ProcessRecords {
  private readonly records = new Map<string, ProcessRecord>();

  constructor(
    private readonly file: string,
    private readonly retention: number,
    private readonly files: JsonlFiles,
  ) {
    for (const record of files.load(file, storedRecordSchema)) {
      this.records.delete(record.id); // re-insert: Map order stays creation order
      this.records.set(record.id, record);
    }
    this.trim();
    files.rewrite(file, [...this.records.values()]);
  }

  /** The record as it is now, for the other JSONL stores while they open. */
  peek(id: string): ProcessRecord | undefined {
    return this.records.get(id);
  }

  async get(id: string): Promise<ProcessRecord | undefined> {
    return this.records.get(id);
  }

  async unfinished(): Promise<ProcessRecord[]> {
    return [...this.records.values()].filter((r) => !TERMINAL.includes(r.status));
  }

  async ofSession(sessionId: string): Promise<ProcessRecord[]> {
    return [...this.records.values()].filter((r) => r.session_id === sessionId);
  }

  /**
   * A snapshot that cannot be written rejects with its StorageError. Memory then goes back to the
   * previous record: it never shows what the disk does not have, except a failure.
   */
  async put(record: ProcessRecord): Promise<void> {
    const prev = this.records.get(record.id);
    this.records.set(record.id, record);
    try {
      this.files.append(this.file, record, 'the process record');
    } catch (err) {
      if (record.status !== 'failed') {
        if (prev) this.records.set(record.id, prev);
        else this.records.delete(record.id);
      }
      throw err;
    }
    if (!prev) this.trim();
  }

  async list(q: ListQuery): Promise<ProcessPage> {
    // Filtered before paginating, so pages, cursors and has_more count only what the viewer sees.
    const newestFirst = [...this.records.values()].reverse().filter((r) => visibleTo(q.viewer, r.key_id));
    return pageAfter(newestFirst, (r) => r.id, q, (r) => (!q.status || r.status === q.status) && (!q.session_id || r.session_id === q.session_id));
  }

  /** Drops the oldest finished records beyond the retention bound. */
  private trim(): void {
    let excess = this.records.size - this.retention;
    for (const [id, r] of this.records) {
      if (excess <= 0) break;
      if (TERMINAL.includes(r.status)) {
        this.records.delete(id);
        excess--;
      }
    }
  }
}
