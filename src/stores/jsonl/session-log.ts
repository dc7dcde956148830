import path from 'node:path';
import type { BusEvent } from '../../core/process-types.js';
import type { JsonlFiles } from './jsonl-file.js';

/**
 * `$LOG_DIR/<session_id>.jsonl`: per turn a request line, then a response or error line (tool
 * activity in between). Session ids are UUIDs, validated before they get here, so they are safe
 * file names.
 */
export class SessionLog {
  constructor(
    private readonly dir: string,
    private readonly files: JsonlFiles,
  ) {}

  /** A line that cannot be written (disk full, data that does not serialize) fails the publisher. */
  private write(sessionId: string, line: Record<string, unknown>): void {
    this.files.append(path.join(this.dir, `${sessionId}.jsonl`), line, 'the session log');
  }

  apply(e: BusEvent): void {
    const base = { ts: e.ts, process_id: e.process_id, session_id: e.session_id, key_id: e.key_id };
    switch (e.type) {
      case 'PROCESS_QUEUED':
        this.write(e.session_id, { ...base, type: 'request', model: e.model, messages: e.internal?.messages ?? [] });
        break;
      case 'PROCESS_TOOL_USE':
        this.write(e.session_id, { ...base, type: 'tool_use', tool_use_id: e.tool_use_id, name: e.name, input: e.input });
        break;
      case 'PROCESS_TOOL_RESULT':
        this.write(e.session_id, { ...base, type: 'tool_result', tool_use_id: e.tool_use_id, content: e.content, is_error: e.is_error });
        break;
      case 'PROCESS_REQUIRES_ACTION':
        this.write(e.session_id, { ...base, type: 'tool_calls', claude: e.result?.raw ?? {} });
        break;
      case 'PROCESS_COMPLETE':
        if (e.status === 'completed') {
          this.write(e.session_id, { ...base, type: 'response', claude: e.result?.raw ?? {} });
        } else {
          this.write(e.session_id, { ...base, type: 'error', status: e.status, error: e.error, claude: e.internal?.claude });
        }
        break;
      default:
        break;
    }
  }
}
