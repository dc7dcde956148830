import { type SessionDirectory, type SessionEntry, sessionEntrySchema } from '../../core/ports.js';
import type { JsonlFiles } from './jsonl-file.js';

/** The session directory as a JSONL file, one line per session, all of it in memory. */
export class JsonlSessionDirectory implements SessionDirectory {
  private readonly sessions = new Map<string, SessionEntry>();

  constructor(
    private readonly file: string,
    private readonly files: JsonlFiles,
  ) {
    for (const entry of files.load(file, sessionEntrySchema)) this.sessions.set(entry.session_id, entry);
    // Compacted like the other stores, so lines set aside as unreadable are not reported again.
    files.rewrite(file, [...this.sessions.values()]);
  }

  async get(id: string): Promise<SessionEntry | undefined> {
    return this.sessions.get(id);
  }

  async register(entry: SessionEntry): Promise<SessionEntry> {
    const existing = this.sessions.get(entry.session_id);
    if (existing) return existing;
    // Written first: a session the gateway could not record does not exist.
    this.files.append(this.file, entry, 'the session index');
    this.sessions.set(entry.session_id, entry);
    return entry;
  }
}
