import type { Config } from '../../config.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/ports.js';
import { JsonlConversationStore } from './conversation-store.js';
import { conversationsDir } from './data-dirs.js';
import { JsonlEventStream } from './event-log.js';
import { JsonlFiles, jsonlPath } from './jsonl-file.js';
import { JsonlProcessRecords } from './process-store.js';
import { JsonlSessionLog } from './session-log.js';
import { JsonlSessionDirectory } from './session-store.js';
import { JsonlUsageLedger } from './usage-ledger.js';

/**
 * The gateway's storage as JSONL files in DATA_DIR and LOG_DIR (which must exist): each store read
 * back and compacted now, then appended to line by line.
 */
export function openJsonlStorage(config: Config, log: Logger): Storage {
  const files = new JsonlFiles({
    onCorrupt: ({ file, skipped, copy }) =>
      log.warn({ file, skipped, copy }, `skipped ${skipped} unreadable line(s) of ${file}; they are kept in ${copy}`),
  });
  const records = new JsonlProcessRecords(jsonlPath(config.dataDir, 'processes'), config.processRetention, files);
  return {
    records,
    events: new JsonlEventStream(jsonlPath(config.dataDir, 'events'), config.eventRetention, (id) => records.peek(id)?.result ?? undefined, files),
    sessions: new JsonlSessionDirectory(jsonlPath(config.dataDir, 'sessions'), files),
    sessionLog: new JsonlSessionLog(config.logDir, files),
    usage: new JsonlUsageLedger(jsonlPath(config.dataDir, 'usage'), files),
    conversations: new JsonlConversationStore(conversationsDir(config.dataDir), files, {
      onUnreadable: (file, skipped) => log.warn({ file, skipped }, `skipped ${skipped} unreadable turn(s) of ${file}`),
    }),
    close: async () => files.closeAll(),
  };
}
