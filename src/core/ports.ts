import { z } from 'zod';
import type { Message } from '../../providers/types.js';
import type { Principal } from './ownership.js';
import type { BusEvent, GatewayEvent, ProcessRecord, ProcessStatus } from './process-types.js';

// What the core keeps, behind small async ports: the JSONL files (src/stores/jsonl/) are the first
// implementation, one that answers later (Redis) can replace them without touching the core. A write
// that fails rejects with a StorageError and leaves nothing half-written.

export interface ListQuery {
  status?: ProcessStatus;
  session_id?: string;
  limit: number;
  /** Cursor: the id of the last process of the previous page. */
  after?: string;
  /** Only what this principal may see is listed (and taken as a cursor). */
  viewer: Principal;
}

/** One page of processes, newest first. */
export interface ProcessPage {
  data: ProcessRecord[];
  has_more: boolean;
}

/** The process records: the core decides each new state (process-record.ts), the port keeps it. */
export interface ProcessRecords {
  get(id: string): Promise<ProcessRecord | undefined>;
  list(query: ListQuery): Promise<ProcessPage>;
  /**
   * Keeps a process's new state. When it cannot be written the port still holds the previous one,
   * but for a failure, held even unwritten so that no process stays `running`.
   */
  put(record: ProcessRecord): Promise<void>;
  /** The records left queued, running or waiting (by a previous run of the gateway, at start). */
  unfinished(): Promise<ProcessRecord[]>;
  /** The records of one session, oldest first (those still retained). */
  ofSession(sessionId: string): Promise<ProcessRecord[]>;
}

/** The events, in seq order, for `since` replays across restarts. */
export interface EventStream {
  /** Appends an event (its answer may be left to the process record, and put back when read). */
  append(event: BusEvent): Promise<void>;
  /** The retained events (the last EVENT_RETENTION, and always the newest) with a seq above `seq`, oldest first. */
  since(seq: number): Promise<GatewayEvent[]>;
}

export const sessionEntrySchema = z.object({
  session_id: z.string(),
  /** The working directory the session is tied to. */
  cwd: z.string(),
  created_at: z.number(),
  /** The API key that started it, whose alone it is (null: started without keys, or before owners were kept). */
  key_id: z.string().nullable().default(null),
  /** The provider that runs it, and the model it started with, as the client named it (null: kept since). */
  provider: z.string().nullable().default(null),
  model: z.string().nullable().default(null),
});
export type SessionEntry = z.infer<typeof sessionEntrySchema>;

export interface SessionListQuery {
  limit: number;
  /** Cursor: the id of the last session of the previous page. */
  after?: string;
  /** Only what this principal may see is listed (and taken as a cursor). */
  viewer: Principal;
}

/** One page of sessions, newest first. */
export interface SessionPage {
  data: SessionEntry[];
  has_more: boolean;
}

/** The sessions the gateway has started. */
export interface SessionDirectory {
  get(id: string): Promise<SessionEntry | undefined>;
  list(query: SessionListQuery): Promise<SessionPage>;
  /** Registers a new session; one already there stays as it is, and is returned. */
  register(entry: SessionEntry): Promise<SessionEntry>;
  /** The session is now the provider's that served its first turn (a route fell back to it). */
  reassign(id: string, provider: string): Promise<void>;
  /** Forgets a session (it was deleted): it can no longer be found, listed or continued. */
  forget(id: string): Promise<void>;
}

/** A line of a session's log (session-log.ts says which). */
export interface SessionLogLine extends Record<string, unknown> {
  ts: number;
  type: string;
  process_id: string;
  session_id: string;
  key_id: string | null;
}

/** Each session's exchanges, line after line, never rewritten. */
export interface SessionLog {
  append(sessionId: string, line: SessionLogLine): Promise<void>;
  /** Removes a session's whole log (a purge); none there is no error. */
  remove(sessionId: string): Promise<void>;
}

/**
 * The conversations of sessions on stateless providers, which keep none of their own: the gateway
 * sends each turn the whole history (conversation.ts decides what is sent and what is kept).
 */
export interface ConversationStore {
  /** The session's messages, oldest first; [] for a session with none. */
  history(sessionId: string): Promise<Message[]>;
  /** Appends one turn (what the client added, then the answer): all of it or, on a crash or failure, none. */
  append(sessionId: string, messages: Message[]): Promise<void>;
  /** Removes the session's conversation; none there is no error. */
  remove(sessionId: string): Promise<void>;
}

/** What one finished process used, in OpenAI's terms (prompt tokens include cached ones). */
export const usageEntrySchema = z.object({
  process_id: z.string(),
  /** When it finished (Unix seconds). */
  finished_at: z.number(),
  key_id: z.string().nullable(),
  model: z.string(),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  cached_tokens: z.number(),
  /** USD; null when its price is unknown. */
  cost_usd: z.number().nullable(),
});
export type UsageEntry = z.infer<typeof usageEntrySchema>;

export interface UsageQuery {
  /** Finished at or after (Unix seconds). */
  from?: number;
  /** Finished before (Unix seconds): windows laid end to end count each process once. */
  to?: number;
  /** Only this key's entries (of those the viewer may see). */
  key_id?: string;
  /** Only what this principal may see is returned. */
  viewer: Principal;
}

/** Every finished process's usage, never rewritten nor bounded: what usage reports are made of. */
export interface UsageLedger {
  append(entry: UsageEntry): Promise<void>;
  /** The matching entries, oldest first. */
  query(query: UsageQuery): Promise<UsageEntry[]>;
}

/** Everything the gateway keeps. */
export interface Storage {
  records: ProcessRecords;
  events: EventStream;
  sessions: SessionDirectory;
  sessionLog: SessionLog;
  usage: UsageLedger;
  conversations: ConversationStore;
  /** Lets go of what it holds open (the gateway stops). */
  close(): Promise<void>;
}

/**
 * A stateless request's answer, kept for the next identical request: the result without the ids
 * and names of the run that made it (a hit gets its own).
 */
export interface CachedAnswer {
  /** The `<provider>/<model>` that served it, for `x-gateway-model` on a hit. */
  target: string;
  result: Omit<import('./run-types.js').RunResult, 'completionId' | 'created' | 'model' | 'processId' | 'sessionId'>;
  /** What it cost when it ran (a hit costs nothing); null when its price was unknown. */
  costUsd: number | null;
}

/**
 * Answers by request key (response-cache.ts `cacheKey`). The memory one is the first; one shared
 * between gateways (Redis) can replace it. Entries expire and are evicted on their own: a miss is
 * never an error the caller must handle.
 */
export interface ResponseCache {
  /** The answer kept under `key`, unless it expired or was evicted. */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Keeps an answer under `key`, replacing any there; it may decline (too large). */
  set(key: string, answer: CachedAnswer): Promise<void>;
}
