import type { OpenAIError } from './errors.js';
import type { Attempt, NewEvent, ProcessRecord } from './process-types.js';

/**
 * The record a process has after `event`, from the one it had (`prev`): undefined when the event
 * changes no record (tool activity), or follows none (a record that was never written).
 */
export function nextRecord(prev: ProcessRecord | undefined, event: NewEvent): ProcessRecord | undefined {
  switch (event.type) {
    case 'PROCESS_QUEUED':
      return {
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
        attempts: event.internal?.target ? [{ target: event.internal.target }] : [],
        cost_usd: null,
        meta: event.internal?.meta ?? null,
      };
    case 'PROCESS_STARTED':
      return prev && { ...prev, status: 'running', started_at: event.ts };
    case 'PROCESS_RETRY':
      return prev && { ...prev, attempts: [...failLast(prev.attempts, event.error), { target: event.next_target }] };
    case 'PROCESS_REQUIRES_ACTION':
      return prev && { ...prev, status: 'requires_action', result: event.result ?? null, required_action: event.required_action };
    case 'PROCESS_COMPLETE':
      return (
        prev && {
          ...prev,
          status: event.status,
          session_id: event.session_id,
          completed_at: event.ts,
          // A process that waited for tool results keeps the answer it gave.
          result: event.result ?? prev.result,
          error: event.error ?? null,
          required_action: null,
          attempts: event.error ? failLast(prev.attempts, event.error) : prev.attempts,
          cost_usd: event.internal?.costUsd ?? null,
        }
      );
    default:
      return undefined;
  }
}

/** The attempt under way ended with the process's error (a cancellation included: it served nothing). */
function failLast(attempts: Attempt[], error: OpenAIError): Attempt[] {
  const last = attempts.at(-1);
  return last ? [...attempts.slice(0, -1), { ...last, error }] : attempts;
}
