import { z } from 'zod';
import { appendJsonl, readJsonl } from './jsonl-file.js';

const sessionSchema = z.object({ session_id: z.string(), cwd: z.string(), created_at: z.number() });
export type SessionEntry = z.infer<typeof sessionSchema>;

/** Sessions the gateway has started, with the working directory each is tied to. */
export class SessionStore {
  private readonly sessions = new Map<string, SessionEntry>();

  constructor(private readonly file: string) {
    for (const line of readJsonl(file)) {
      const parsed = sessionSchema.safeParse(line);
      if (parsed.success) this.sessions.set(parsed.data.session_id, parsed.data);
    }
  }

  get(id: string): SessionEntry | undefined {
    return this.sessions.get(id);
  }

  register(id: string, cwd: string, now: number): SessionEntry {
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const entry = { session_id: id, cwd, created_at: now };
    this.sessions.set(id, entry);
    appendJsonl(this.file, entry);
    return entry;
  }
}
