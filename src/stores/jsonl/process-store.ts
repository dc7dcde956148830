import { type Principal, visibleTo } from '../../core/ownership.js';
import { type BusEvent, type ProcessRecord, type ProcessStatus, TERMINAL, processRecordSchema } from '../../core/process-types.js';
import type { JsonlFiles } from './jsonl-file.js';

export interface ListQuery {
  status?: ProcessStatus;
  session_id?: string;
  limit: number;
  /** Cursor: the id of the last process of the previous page. */
  after?: string;
  /** Only what this principal may see is listed (and taken as a cursor). */
  viewer: Principal;
}

/**
 * Process records, built only from bus events and kept as snapshots in an append-only JSONL file
 * (last snapshot wins on replay). Compacted at start, bounded to `retention` records.
 */
export class ProcessStore {
  private readonly records = new Map<string, ProcessRecord>();

  constructor(
    private readonly file: string,
    private readonly retention: number,
    private readonly files: JsonlFiles,
  ) {
    for (const record of files.load(file, processRecordSchema)) {
      this.records.delete(record.id); // re-insert: Map order stays creation order
      this.records.set(record.id, record);
    }
    this.trim();
    files.rewrite(file, [...this.records.values()]);
  }

  /** Records a previous run of the gateway left queued or running. */
  unfinished(): ProcessRecord[] {
    return [...this.records.values()].filter((r) => !TERMINAL.includes(r.status));
  }

  /**
   * Follows one event; a snapshot that cannot be written throws its StorageError to the publisher.
   * Memory then goes back to the previous record: it never shows what the disk does not have,
   * except a failure, kept even unwritten so that a process never stays `running`.
   */
  apply(event: BusEvent): void {
    const prev = this.records.get(event.process_id);
    let next: ProcessRecord | undefined;
    switch (event.type) {
      case 'PROCESS_QUEUED':
        next = {
          id: event.process_id,
          object: 'process',
          status: 'queued',
          model: event.model,
          session_id: event.session_id,
          created_at: event.ts,
          started_at: null,
          completed_at: null,
          result: null,
          error: null,
          required_action: null,
          key_id: event.key_id,
        };
        break;
      case 'PROCESS_STARTED':
        if (prev) next = { ...prev, status: 'running', started_at: event.ts };
        break;
      case 'PROCESS_REQUIRES_ACTION':
        if (prev) next = { ...prev, status: 'requires_action', result: event.result ?? null, required_action: event.required_action ?? null };
        break;
      case 'PROCESS_COMPLETE':
        if (prev) {
          next = {
            ...prev,
            status: event.status,
            session_id: event.session_id,
            completed_at: event.ts,
            // A process that waited for tool results keeps the answer it gave.
            result: event.result ?? prev.result,
            error: event.error ?? null,
            required_action: null,
          };
        }
        break;
      default:
        return; // tool activity does not change the record
    }
    if (!next) return;
    this.records.set(next.id, next);
    try {
      this.files.append(this.file, next, 'the process record');
    } catch (err) {
      if (next.status !== 'failed') {
        if (prev) this.records.set(next.id, prev);
        else this.records.delete(next.id);
      }
      throw err;
    }
    if (event.type === 'PROCESS_QUEUED') this.trim();
  }

  get(id: string): ProcessRecord | undefined {
    return this.records.get(id);
  }

  list(q: ListQuery): { data: ProcessRecord[]; has_more: boolean } {
    // Filtered before paginating, so pages, cursors and has_more count only what the viewer sees.
    const newestFirst = [...this.records.values()].reverse().filter((r) => visibleTo(q.viewer, r.key_id));
    let start = 0;
    if (q.after) {
      const at = newestFirst.findIndex((r) => r.id === q.after);
      start = at < 0 ? newestFirst.length : at + 1;
    }
    const data: ProcessRecord[] = [];
    let has_more = false;
    for (let i = start; i < newestFirst.length; i++) {
      const r = newestFirst[i]!;
      if (q.status && r.status !== q.status) continue;
      if (q.session_id && r.session_id !== q.session_id) continue;
      if (data.length === q.limit) {
        has_more = true;
        break;
      }
      data.push(r);
    }
    return { data, has_more };
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
