import { z } from 'zod';
import { visibleTo } from '../../core/ownership.js';
import { type SessionDirectory, type SessionEntry, type SessionListQuery, type SessionPage, sessionEntrySchema } from '../../core/ports.js';
import { nowSeconds } from '../../core/process-types.js';
import type { JsonlFiles } from './jsonl-file.js';
import { pageAfter } from './page.js';

/** A line saying a session was deleted: appended, so the file is never rewritten but at start. */
const forgottenSchema = z.object({ session_id: z.string(), forgotten_at: z.number() });
const lineSchema = z.union([sessionEntrySchema, forgottenSchema]);

/** The session directory as a JSONL file, one line per session (and per deletion), all of it in memory. */
export class JsonlSessionDirectory implements SessionDirectory {
  /** In registration order: oldest first. */
  private readonly sessions = new Map<string, SessionEntry>();

  constructor(
    private readonly file: string,
    private readonly files: JsonlFiles,
  ) {
    for (const line of files.load(file, lineSchema)) {
      if ('forgotten_at' in line) this.sessions.delete(line.session_id);
      else this.sessions.set(line.session_id, line);
    }
    // Compacted like the other stores (deletions and lines set aside as unreadable are not kept).
    files.rewrite(file, [...this.sessions.values()]);
  }

  async get(id: string): Promise<SessionEntry | undefined> {
    return this.sessions.get(id);
  }

  async list(q: SessionListQuery): Promise<SessionPage> {
    // Filtered before paginating, so pages, cursors and has_more count only what the viewer sees.
    const newestFirst = [...this.sessions.values()].reverse().filter((s) => visibleTo(q.viewer, s.key_id));
    return pageAfter(newestFirst, (s) => s.session_id, q);
  }

  async register(entry: SessionEntry): Promise<SessionEntry> {
    const existing = this.sessions.get(entry.session_id);
    if (existing) return existing;
    // Written first: a session the gateway could not record does not exist.
    this.files.append(this.file, entry, 'the session index');
    this.sessions.set(entry.session_id, entry);
    return entry;
  }

  async reassign(id: string, provider: string): Promise<void> {
    const entry = this.sessions.get(id);
    if (!entry || entry.provider === provider) return;
    // The later line wins when the file is read again.
    const moved = { ...entry, provider };
    this.files.append(this.file, moved, 'the session index');
    this.sessions.set(id, moved);
  }

    async forget(id: string): Promise<void> {
    if (!this.sessions.has(id)) return;
    this.files.append(this.file, { session_id: id, forgotten_at: nowSeconds() }, 'the session index');
    this.sessions.delete(id);
  }
}
