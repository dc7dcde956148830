import { createHash } from 'node:crypto';
import { enablesBuiltIn } from '../../providers/claude-cli/tool-policy.js';
import type { ChatRequest } from '../../providers/types.js';
import type { CachedAnswer, ResponseCache } from './ports.js';

export interface MemoryResponseCacheOptions {
  /** How long an answer is served after it was kept (a hit does not extend it). */
  ttlMs: number;
  /** Bound on the UTF-8 bytes of the kept answers' JSON and their keys. */
  maxBytes: number;
  /** The clock, in milliseconds (tests move it). */
  now?: () => number;
}

interface Entry {
  /** Kept as JSON: its size is what is bounded, and each hit parses a copy the caller may change. */
  json: string;
  bytes: number;
  expiresAt: number;
}

/**
 * Answers in memory, bounded in bytes, least recently used evicted first. Expired entries are
 * dropped when met or when room is needed; there are no timers, so nothing to close.
 */
export class MemoryResponseCache implements ResponseCache {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly now: () => number;
  /** In order of use, least recent first: a hit is re-inserted at the end. */
  private readonly entries = new Map<string, Entry>();
  private used = 0;

  constructor({ ttlMs, maxBytes, now = Date.now }: MemoryResponseCacheOptions) {
    if (!(ttlMs > 0) || !(maxBytes > 0)) throw new RangeError(`cache ttlMs and maxBytes must be positive (got ${ttlMs}, ${maxBytes})`);
    this.ttlMs = ttlMs;
    this.maxBytes = maxBytes;
    this.now = now;
  }

  /** How many answers are kept (expired ones not yet met included). */
  get size(): number {
    return this.entries.size;
  }

  /** The bytes counted against `maxBytes`. */
  get bytes(): number {
    return this.used;
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) {
      this.used -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return JSON.parse(entry.json) as CachedAnswer;
  }

  async set(key: string, answer: CachedAnswer): Promise<void> {
    this.remove(key);
    const json = JSON.stringify(answer);
    const bytes = Buffer.byteLength(json) + Buffer.byteLength(key);
    // Storing it would evict everything and still not fit.
    if (bytes > this.maxBytes) return;
    const now = this.now();
    if (this.used + bytes > this.maxBytes) this.dropExpired(now);
    for (const [oldest] of this.entries) {
      if (this.used + bytes <= this.maxBytes) break;
      this.remove(oldest);
    }
    this.entries.set(key, { json, bytes, expiresAt: now + this.ttlMs });
    this.used += bytes;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.used -= entry.bytes;
  }

  /** Expired entries go before any live one is evicted, however recently they were used. */
  private dropExpired(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.remove(key);
  }
}


/**
 * The cache key of a request: a sha256 (hex) of everything that shapes its answer, as canonical
 * JSON (object keys sorted, undefined left out), so the order the client wrote fields in does not
 * matter. `model` is the name the client asked for (a route's name, not the target that ran it).
 * `stream` is left out: a hit is answered as JSON or SSE alike.
 *
 * Undefined (not cacheable) for a request that has state: one continuing or forking a session, or
 * one enabling the provider's built-in tools, by permission rules or by a function named after one
 * (they act on the world; their answer is no pure function of the request). The caller also skips
 * background jobs and requests that opted out (`cache-control: no-cache`, `"cache": false`): those
 * are front-door concerns, not the request's.
 */
export function cacheKey(model: string, request: ChatRequest): string | undefined {
  if (request.session.kind !== 'new') return undefined;
  if (request.permissions.allow.length > 0) return undefined;
  // A function named after a Claude Code tool enables that tool on the CLI just as allowed_tools do.
  // The key cannot tell which provider serves the model, so such a request is never cached.
  if (request.tools.some(enablesBuiltIn)) return undefined;
  const keyed = {
    // Bumped when what is keyed changes, so that a shared cache never mixes two formats.
    v: 1,
    model,
    messages: request.messages,
    tools: request.tools,
    toolChoice: request.toolChoice,
    parallelToolCalls: request.parallelToolCalls,
    responseFormat: request.responseFormat,
    sampling: request.sampling,
    maxTurns: request.maxTurns,
    permissions: request.permissions,
    // Absent, it is left out: the keys of requests without one stay as they were.
    passthrough: request.passthrough,
  };
  return createHash('sha256').update(canonicalJson(keyed)).digest('hex');
}

/** JSON with object keys sorted at every depth and undefined members left out (null in arrays, as JSON does). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${members.join(',')}}`;
  }
  // A parsed request holds no functions or symbols; null stands in should one appear.
  return JSON.stringify(value) ?? 'null';
}
