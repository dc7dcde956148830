import { rm } from 'node:fs/promises';
import path from 'node:path';
import { storageError } from '../../core/errors.js';
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
    this.files.append(this.file(sessionId), line, 'the session log');
  }

  async remove(sessionId: string): Promise<void> {
    const file = this.file(sessionId);
    this.files.close(file);
    await rm(file, { force: true }).catch((err: unknown) => {
      throw storageError(err, 'the session log');
    });
  }

  private file(sessionId: string): string {
    return path.join(this.dir, `${sessionId}.jsonl`);
  }
}
