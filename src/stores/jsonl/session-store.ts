import { z } from 'zod';
import type { JsonlFiles } from './jsonl-file.js';

const sessionSchema = z.object({
  session_id: z.string(),
  cwd: z.string(),
  created_at: z.number(),
  /** The API key that started it, whose alone it is (null: started without keys, or before owners were kept). */
  key_id: z.string().nullable().default(null),
});
export type SessionEntry = z.infer<typeof sessionSchema>;

/** Sessions the gateway has started, with the working directory each is tied to and the key it belongs to. */
export class SessionStore {
  private readonly sessions = new Map<string, SessionEntry>();

  constructor(
    private readonly file: string,
    private readonly files: JsonlFiles,
  ) {
    for (const entry of files.load(file, sessionSchema)) this.sessions.set(entry.session_id, entry);
    // Compacted like the other stores, so lines set aside as unreadable are not reported again.
    files.rewrite(file, [...this.sessions.values()]);
  }

  get(id: string): SessionEntry | undefined {
    return this.sessions.get(id);
  }

  register(id: string, cwd: string, now: number, keyId: string | null): SessionEntry {
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const entry = { session_id: id, cwd, created_at: now, key_id: keyId };
    // Written first: a session the gateway could not record does not exist.
    this.files.append(this.file, entry, 'the session index');
    this.sessions.set(id, entry);
    return entry;
  }
}
