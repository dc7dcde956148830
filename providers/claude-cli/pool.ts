import { randomUUID } from 'node:crypto';
import type { WaitingRunLoss } from '../types.js';
import { profileKey, profileOf } from './args.js';
import type { LiveCliProcess } from './live-process.js';
import type { CliRequest, SpawnProfile } from './request.js';

export interface PoolOptions {
  /** Warm processes kept ready per profile in use (the default profile always). */
  size: number;
  /** Live processes at most: warm, reserved, busy, hot and waiting together. */
  maxProcesses: number;
  /** Runs waiting for client calls at most: beyond it the one waiting longest is evicted. */
  maxParked: number;
  /** How long a session's process stays hot after its turn (and a warm one of a profile out of use). */
  hotTtlMs: number;
  /** Turns after which a process is recycled (the CLI grows with use). */
  maxTurns: number;
  /** Resident memory after which a process is recycled. */
  maxRssMb: number;
  defaultProfile: SpawnProfile;
  spawn(profile: SpawnProfile, session: { id: string; resume: boolean }): Promise<LiveCliProcess>;
  onError?(err: unknown): void;
  /** A waiting run ended without its results: its process exited, or it was evicted. */
  onRunLost?(sessionId: string, why: WaitingRunLoss): void;
}

/**
 * `probing`: just started, answering the initialize handshake before it counts as warm; `waiting`: its run waits
 * for the results of client function calls (not idle: evicted only to keep within the bounds).
 */
type State = 'probing' | 'warm' | 'reserved' | 'busy' | 'hot' | 'waiting' | 'closing';

export interface PoolEntry {
  proc: LiveCliProcess;
  key: string;
  profile: SpawnProfile;
  state: State;
  lastUsed: number;
  timer?: NodeJS.Timeout;
}

/** After a warm process dies this young, its profile is not refilled for a while (no spawn loops). */
const EARLY_DEATH_MS = 5_000;
const REFILL_BACKOFF_MS = 10_000;
const RSS_CHECK_EVERY = 5;
/** How long a new warm process may take to answer the initialize handshake. */
const PROBE_TIMEOUT_MS = 30_000;

/**
 * Pre-started CLI processes keyed by spawn profile. A fresh completion reserves a warm process (its
 * session id becomes the completion's); after the turn the process stays bound to that session as a
 * hot session for a TTL, so the next turn goes straight to it. Expired processes are closed and the
 * warm pool refilled; processes are recycled after a turn count or memory ceiling; the least
 * recently used idle ones make room for new ones.
 */
export class ProcessPool {
  private readonly entries = new Set<PoolEntry>();
  /** Profiles other than the default: how often and when last used, to warm them on demand. */
  private readonly usage = new Map<string, { profile: SpawnProfile; count: number; at: number }>();
  private readonly refillBlockedUntil = new Map<string, number>();
  /** Warm processes being spawned, per profile: counted as there already, so refills do not overshoot. */
  private readonly starting = new Map<string, number>();
  private readonly defaultKey: string;
  private closed = false;
  /**
   * Whether the CLI has shown it works in the long-lived mode (a warm process answered initialize).
   * Until then completions that can do without it run one-shot: a `claude` that only knows `-p`
   * (an older one, or a test double) is never sent a message it would wait on forever.
   */
  verified = false;

  constructor(private readonly opts: PoolOptions) {
    this.defaultKey = profileKey(opts.defaultProfile);
  }

  /** Warms the default profile. */
  start(): void {
    this.refill(this.defaultKey, this.opts.defaultProfile);
  }

  stats(): Record<State, number> & { total: number } {
    const s = { probing: 0, warm: 0, reserved: 0, busy: 0, hot: 0, waiting: 0, closing: 0, total: this.entries.size };
    for (const e of this.entries) s[e.state]++;
    return s;
  }

  /** Takes a warm process of this profile for a new session, or undefined when none is ready. */
  reserve(profile: SpawnProfile): string | undefined {
    const key = profileKey(profile);
    this.noteUse(key, profile);
    const entry = this.find((e) => e.state === 'warm' && e.key === key);
    if (entry) {
      this.setState(entry, 'reserved');
      entry.lastUsed = Date.now();
    }
    // After the reserved process has its turn: spawning a CLI blocks the event loop for a few ms.
    setImmediate(() => {
      if (!this.closed) this.refill(key, profile);
    });
    return entry?.proc.sessionId;
  }

  /** A reservation that will not be used (its completion was cancelled while queued). */
  release(sessionId: string): void {
    const entry = this.find((e) => e.state === 'reserved' && e.proc.sessionId === sessionId);
    if (entry) this.setState(entry, 'warm');
  }

  /** Closes the session's hot process, if it has one (the session is deleted). */
  async closeSession(sessionId: string): Promise<void> {
    const entry = this.find((e) => e.state === 'hot' && e.proc.sessionId === sessionId);
    if (entry) await this.retire(entry);
  }

  /** Interrupts a waiting run; its process stays hot for the session. */
  async cancelWaiting(sessionId: string): Promise<void> {
    const entry = this.find((e) => e.state === 'waiting' && e.proc.sessionId === sessionId);
    if (!entry) return;
    this.setState(entry, 'busy');
    await entry.proc.cancelWaiting();
    this.checkin(entry);
  }

  /**
   * The process for this turn: the reserved or hot one, or the one whose run waits for the results
   * the turn brings; else a new one (resuming when needed). A run its session abandons is
   * interrupted before the next turn comes (the caller's to do): a waiting process is never sent a
   * new message, only replaced.
   */
  async checkout(req: CliRequest): Promise<PoolEntry> {
    const key = profileKey(profileOf(req));
    const mine = this.find((e) => e.proc.sessionId === req.sessionId && e.state !== 'busy' && e.state !== 'warm');
    const usable = mine?.state === 'reserved' || mine?.state === 'hot' || (mine?.state === 'waiting' && req.toolResults);
    if (mine && usable && mine.key === key && mine.proc.isAlive) {
      this.setState(mine, 'busy');
      return mine;
    }
    // A session's process with another profile (or on its way out) goes first: one process per session.
    if (mine) await this.retire(mine);
    this.makeRoom(0, undefined, true);
    const proc = await this.opts.spawn(profileOf(req), { id: req.sessionId, resume: req.resume });
    return this.add(proc, key, profileOf(req), 'busy');
  }

  /** Back from a turn: hot for its session, or recycled. */
  checkin(entry: PoolEntry): void {
    if (!this.entries.has(entry)) return;
    entry.lastUsed = Date.now();
    if (!entry.proc.isAlive) return;
    // A run waiting on the client stays as it is (its TTL is the caller's to enforce), within MAX_PARKED_RUNS.
    if (entry.proc.waitingFor.length) {
      this.setState(entry, 'waiting');
      while (this.count((e) => e.state === 'waiting') > this.opts.maxParked && this.evictParked(entry));
      return;
    }
    // Memory is read from /proc every few turns only: it grows slowly, and the read is not free.
    const rss = entry.proc.turns % RSS_CHECK_EVERY === 0 ? entry.proc.rssMb() : undefined;
    if (this.closed || entry.proc.turns >= this.opts.maxTurns || (rss !== undefined && rss > this.opts.maxRssMb)) {
      void this.retire(entry);
      return;
    }
    this.setState(entry, 'hot');
    this.trim();
  }

  /** Back within the bound once busy processes (which may exceed it) have become idle ones. */
  private trim(): void {
    while (this.occupied > this.opts.maxProcesses) {
      const before = this.occupied;
      this.makeRoom(-1);
      if (this.occupied === before) return; // nothing idle to close
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries].map((e) => this.retire(e)));
  }

  private find(pred: (e: PoolEntry) => boolean): PoolEntry | undefined {
    for (const e of this.entries) if (pred(e)) return e;
    return undefined;
  }

  private count(pred: (e: PoolEntry) => boolean): number {
    let n = 0;
    for (const e of this.entries) if (pred(e)) n++;
    return n;
  }

  private add(proc: LiveCliProcess, key: string, profile: SpawnProfile, state: State): PoolEntry {
    const entry: PoolEntry = { proc, key, profile, state: 'busy', lastUsed: Date.now() };
    const born = Date.now();
    this.entries.add(entry);
    this.setState(entry, state);
    void proc.exited.then(() => {
      clearTimeout(entry.timer);
      this.entries.delete(entry);
      // Its caller learns at once, not at the end of the wait's TTL.
      if (entry.state === 'waiting') this.opts.onRunLost?.(proc.sessionId, 'exited');
      if ((entry.state === 'warm' || entry.state === 'probing') && Date.now() - born < EARLY_DEATH_MS) {
        this.refillBlockedUntil.set(key, Date.now() + REFILL_BACKOFF_MS);
      }
      if (entry.state === 'warm' || entry.state === 'reserved') this.refill(key, profile);
    });
    return entry;
  }

  /** State changes arm the idle timers: hot and warm processes expire, the others do not. */
  private setState(entry: PoolEntry, state: State): void {
    entry.state = state;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (state === 'hot' || (state === 'warm' && entry.key !== this.defaultKey)) {
      entry.timer = setTimeout(() => void this.expire(entry), this.opts.hotTtlMs);
      entry.timer.unref();
    }
  }

  /**
   * An idle process past its TTL is closed; the warm pool is refilled with new processes. (A /clear
   * would reuse it, but leaves a trace of the command in the next conversation's first message,
   * so a recycled process would not answer exactly as a fresh one.)
   */
  private async expire(entry: PoolEntry): Promise<void> {
    await this.retire(entry);
    if (entry.key === this.defaultKey) this.refill(entry.key, entry.profile);
  }

  private async retire(entry: PoolEntry): Promise<void> {
    this.setState(entry, 'closing');
    await entry.proc.close();
    this.entries.delete(entry);
  }

  /** How many more warm processes this profile should have. */
  private warmWanted(key: string): number {
    if (this.closed || this.opts.size === 0) return 0;
    const inUse = key === this.defaultKey || (this.usage.get(key)?.count ?? 0) >= 2;
    if (!inUse) return 0;
    const ready = this.count((e) => e.key === key && (e.state === 'warm' || e.state === 'probing'));
    return this.opts.size - (this.starting.get(key) ?? 0) - ready;
  }

  /** Processes that count against the bound: all but those on their way out. */
  private get occupied(): number {
    return this.count((e) => e.state !== 'closing');
  }

  private get startingTotal(): number {
    let n = 0;
    for (const v of this.starting.values()) n += v;
    return n;
  }

  private noteUse(key: string, profile: SpawnProfile): void {
    if (key === this.defaultKey) return;
    const now = Date.now();
    const u = this.usage.get(key);
    const recent = u && now - u.at < this.opts.hotTtlMs;
    this.usage.set(key, { profile, count: recent ? u.count + 1 : 1, at: now });
    // Forget profiles out of use, so the map stays bounded.
    for (const [k, v] of this.usage) if (now - v.at > this.opts.hotTtlMs) this.usage.delete(k);
  }

  /** Starts warm processes for a profile up to its target, without evicting anyone's session. */
  private refill(key: string, profile: SpawnProfile): void {
    if ((this.refillBlockedUntil.get(key) ?? 0) > Date.now()) return;
    // The default profile's warm processes come first: for them the idlest processes make room.
    if (key === this.defaultKey) {
      for (let i = 0; i < this.warmWanted(key); i++) this.makeRoom(this.startingTotal + i, key);
    }
    const room = this.opts.maxProcesses - this.occupied - this.startingTotal;
    const wanted = Math.min(this.warmWanted(key), room);
    for (let i = 0; i < wanted; i++) {
      this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
      const started = () => this.starting.set(key, (this.starting.get(key) ?? 1) - 1);
      this.opts.spawn(profile, { id: randomUUID(), resume: false }).then(
        (proc) => {
          started();
          if (this.closed) void proc.close();
          else void this.probe(this.add(proc, key, profile, 'probing'));
        },
        (err) => {
          started();
          this.opts.onError?.(err);
        },
      );
    }
  }

  /**
   * A new process must answer the SDK's initialize handshake before it counts as warm: that proves
   * the CLI speaks the long-lived protocol (no conversation is touched).
   */
  private async probe(entry: PoolEntry): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)));
    const ok = await Promise.race([entry.proc.initialized, timeout]);
    clearTimeout(timer);
    if (entry.state !== 'probing') return;
    if (ok && entry.proc.isAlive) {
      this.verified = true;
      this.setState(entry, 'warm');
      return;
    }
    this.refillBlockedUntil.set(entry.key, Date.now() + REFILL_BACKOFF_MS);
    await this.retire(entry);
  }

  /**
   * Frees a place for a new process (with `starting` more already on their way): the least
   * recently used idle one goes, warm before hot, never a warm one of `forKey` itself; with none
   * idle and `parkedToo` (a request needs the place), the run waiting longest for the client.
   */
  private makeRoom(starting = 0, forKey?: string, parkedToo = false): void {
    if (this.occupied + starting < this.opts.maxProcesses) return;
    let victim: PoolEntry | undefined;
    for (const e of this.entries) {
      if (e.state !== 'warm' && e.state !== 'hot') continue;
      if (e.state === 'warm' && e.key === forKey) continue;
      const better =
        !victim ||
        (e.state === 'warm' && victim.state === 'hot') ||
        (e.state === victim.state && e.lastUsed < victim.lastUsed);
      if (better) victim = e;
    }
    if (victim) void this.retire(victim);
    else if (parkedToo) this.evictParked();
  }

  /**
   * Ends the run waiting longest for the client (not `keep`), its caller told, and frees its process:
   * interrupted first, so that the CLI does not go on to the model without the results. Results
   * that arrive later find no waiting run and take the caller's fallback.
   */
  private evictParked(keep?: PoolEntry): boolean {
    let victim: PoolEntry | undefined;
    for (const e of this.entries) {
      if (e.state === 'waiting' && e !== keep && (!victim || e.lastUsed < victim.lastUsed)) victim = e;
    }
    if (!victim) return false;
    const entry = victim;
    this.setState(entry, 'closing');
    this.opts.onRunLost?.(entry.proc.sessionId, 'evicted');
    void entry.proc.cancelWaiting().then(() => this.retire(entry));
    return true;
  }
}
