import type { EventBus } from './event-bus.js';
import type { Storage } from './ports.js';
import { sessionLogLine } from './session-log.js';
import { usageEntry } from './usage-entry.js';

/**
 * Has the bus record every event in storage before anyone hears of it: the event log, the session
 * log, the usage ledger (a finished process's tokens and cost), and the process record last, so that
 * a record says `completed` only once the logs have the answer too (a failed write stops the event there).
 */
export function recordEvents(bus: EventBus, storage: Omit<Storage, 'close'>): void {
  bus.record((e) => storage.events.append(e));
  bus.record(async (e) => {
    const line = sessionLogLine(e);
    if (line) await storage.sessionLog.append(e.session_id, line);
  });
  bus.record(async (e) => {
    const entry = e.type === 'PROCESS_COMPLETE' && e.internal?.record && usageEntry(e.internal.record);
    if (entry) await storage.usage.append(entry);
  });
  bus.record(async (e) => {
    if (e.internal?.record) await storage.records.put(e.internal.record);
  });
}
