import path from 'node:path';
import type { SessionLog, SessionLogLine } from '../../core/ports.js';
import type { JsonlFiles } from './jsonl-file.js';

/**
 * `$LOG_DIR/<session_id>.jsonl`, one file per session. Session ids are UUIDs, validated before they
 * get here, so they are safe file names.
 */
export class JsonlSessionLog implements SessionLog {
  constructor(
    private readonly dir: string,
    private readonly files: JsonlFiles,
  ) {}

  /** A line that cannot be written (disk full, data that does not serialize) rejects. */
  async append(sessionId: string, line: SessionLogLine): Promise<void> {
    this.files.append(path.join(this.dir, `${sessionId}.jsonl`), line, 'the session log');
  }
}
