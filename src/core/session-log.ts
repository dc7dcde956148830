import type { SessionLogLine } from './ports.js';
import type { BusEvent } from './process-types.js';

/**
 * The line an event adds to its session's log (`$LOG_DIR/<session_id>.jsonl`, the contract's
 * format): per turn a request line, then a response or error line, tool activity and failed
 * attempts (`retry`) in between.
 * Undefined for events the log does not follow.
 */
export function sessionLogLine(e: BusEvent): SessionLogLine | undefined {
  const base = { ts: e.ts, process_id: e.process_id, session_id: e.session_id, key_id: e.key_id };
  switch (e.type) {
    case 'PROCESS_QUEUED':
      return { ...base, type: 'request', model: e.model, messages: e.internal?.messages ?? [] };
    case 'PROCESS_RETRY':
      return { ...base, type: 'retry', target: e.target, error: e.error, next_target: e.next_target, delay_ms: e.delay_ms };
    case 'PROCESS_TOOL_USE':
      return { ...base, type: 'tool_use', tool_use_id: e.tool_use_id, name: e.name, input: e.input };
    case 'PROCESS_TOOL_RESULT':
      return { ...base, type: 'tool_result', tool_use_id: e.tool_use_id, content: e.content, is_error: e.is_error };
    case 'PROCESS_REQUIRES_ACTION':
      return { ...base, type: 'tool_calls', claude: e.result?.raw ?? {} };
    case 'PROCESS_COMPLETE':
      return e.status === 'completed'
        ? { ...base, type: 'response', claude: e.result?.raw ?? {} }
        : { ...base, type: 'error', status: e.status, error: e.error, claude: e.internal?.claude };
    default:
      return undefined;
  }
}
