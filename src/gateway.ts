import type { ProviderRegistry } from '../providers/registry.js';
import type { ModelInfo } from '../providers/types.js';
import type { Config } from './config.js';
import { GatewayError, ModelNotAllowedError, NotFoundError } from './core/errors.js';
import { EventBus } from './core/event-bus.js';
import type { Logger } from './core/logger.js';
import { type GatewayMetrics, NO_METRICS, observeEvents } from './core/metrics.js';
import type { GatewayTracer } from './core/tracing.js';
import { ANONYMOUS, type Principal, visibleTo } from './core/ownership.js';
import type { ListQuery, ProcessPage, ResponseCache, SessionEntry, SessionListQuery, Storage, UsageQuery } from './core/ports.js';
import { cacheKey } from './core/response-cache.js';
import { AutoSessions } from './core/auto-sessions.js';
import { Router, type RoutingSettings } from './core/routing.js';
import { Spend } from './core/spend.js';
import { usageEntry } from './core/usage-entry.js';
import { type ProcessHandle, ProcessManager } from './core/process-manager.js';
import type { EventType, GatewayEvent, ProcessRecord } from './core/process-types.js';
import { Readiness } from './core/readiness.js';
import { recordEvents } from './core/recorders.js';
import { type SessionSummary, summarizeSession } from './core/session-summary.js';
import type { Job } from './core/run-types.js';
import { type UsageDimension, type UsageRow, summarizeUsage } from './core/usage-report.js';
import { prepareDirectories } from './stores/jsonl/data-dirs.js';
import { openJsonlStorage } from './stores/jsonl/storage.js';

export type { ProcessHandle, SessionSummary, UsageDimension, UsageRow };

/** A completion as a front door asks for it; whose it is comes with the submission. */
export type { Job };

export interface SubmitOptions {
  /** Who submits: the process is its key's, and it may continue only the sessions it can see. */
  principal: Principal;
  /** Aborted when the submitter goes away before its answer is complete: the process is cancelled. */
  signal?: AbortSignal;
  /**
   * Whether the response cache may answer (and keep the answer): false for background jobs and
   * clients that opt out. Only stateless requests are cached whatever this says.
   */
  cache?: boolean;
}

/** Which events a subscriber wants, of those it may see. */
export interface EventFilter {
  process_id?: string;
  session_id?: string;
  types?: readonly EventType[];
}

export interface Subscription {
  filter: EventFilter;
  /** First replay the retained events after this seq. */
  since?: number;
  principal: Principal;
}

/** One page of sessions, newest first. */
export interface SessionSummaryPage {
  data: SessionSummary[];
  has_more: boolean;
}

export interface GatewayStats {
  running: number;
  queued: number;
  /** The seq of the newest event. */
  lastSeq: number;
  /** What the providers keep running (their pools), when any counts: each count summed over them. */
  pool?: Record<string, number>;
}

/**
 * What every front door (the HTTP routes, next the Unix socket and the other API formats) does
 * with the gateway: the front door maps its wire format to a job and the answer back, the gateway
 * does the rest. Another key's process is as unknown here as one that does not exist.
 */
export interface Gateway {
  /** True once shutdown began: new work is refused. */
  readonly closing: boolean;
  /**
   * Queues a job: resolves once it is recorded (its handle streams `events`, ending in the outcome,
   * and resolves `done`), or rejects with why it was refused (400, 404, 429, 503…).
   */
  submit(job: Job, opts: SubmitOptions): Promise<ProcessHandle>;
  get(id: string, principal: Principal): Promise<ProcessRecord>;
  list(query: Omit<ListQuery, 'viewer'>, principal: Principal): Promise<ProcessPage>;
  /** Cancels a queued, running or waiting process; resolves with its record once it has stopped. */
  cancel(id: string, principal: Principal): Promise<ProcessRecord>;
  listSessions(query: Omit<SessionListQuery, 'viewer'>, principal: Principal): Promise<SessionSummaryPage>;
  getSession(id: string, principal: Principal): Promise<SessionSummary>;
  /**
   * Deletes a session with no process queued, running or waiting (else 409 `session_busy`): its
   * provider closes its process and removes its transcript, the gateway forgets it (continuing it
   * is then a 404), and its log goes too with `purge`. Resolves with the session as it was.
   */
  deleteSession(id: string, principal: Principal, opts: { purge: boolean }): Promise<SessionSummary>;
  /**
   * Calls `onEvent` with every event the subscription wants, the replay first, in seq order, and
   * nothing twice; the same event is the same object for every subscriber. Returns the unsubscribe.
   */
  subscribe(subscription: Subscription, onEvent: (event: GatewayEvent) => void): () => void;
  /**
   * What the finished processes the principal may see used, summed by `groupBy` (none: one row of
   * totals). Another key's `key_id` gives no rows, as its processes are absent from lists.
   */
  usage(query: Omit<UsageQuery, 'viewer'> & { groupBy: readonly UsageDimension[] }, principal: Principal): Promise<UsageRow[]>;
  /**
   * Resolves when every provider is usable, with the version each reports, by provider name; else
   * rejects with the 503 of the first unusable one.
   */
  ready(): Promise<Record<string, { version?: string; warnings?: string[] }>>;
  /** Stops taking work, lets what runs finish within `graceMs`, cancels the rest, lets go of everything. */
  shutdown(graceMs: number): Promise<void>;
  /** Every provider's models. */
  models(): ModelInfo[];
  /** The serving provider's own name of a model (a route's first target's), or undefined when none serves it. */
  resolveModel(requested: string): string | undefined;
  /** Who answers for a served model on `/v1/models`: `gateway` for a route, else its provider's name. */
  ownerOf(requested: string): string;
  stats(): GatewayStats;
  /** Whether a response cache is on (answers then say `x-cache`). */
  readonly caching: boolean;
  /** Takes new routing settings (a reloaded GATEWAY_CONFIG); throws, keeping the old ones, when a route cannot be served. */
  reconfigure(routing: RoutingSettings): void;
}

export interface GatewayDeps {
  log: Logger;
  /** The providers, and which one serves a model name. */
  registry: ProviderRegistry;
  /** Routes, retries, cooldowns and prices (GATEWAY_CONFIG); default: none, and the default retry policy. */
  routing?: RoutingSettings;
  /** The response cache, when it is on. */
  cache?: ResponseCache;
  /** Where the gateway's metrics go (src/metrics/); default: nowhere. */
  metrics?: GatewayMetrics;
  /** Where its spans go (src/telemetry/); default: nowhere. */
  tracer?: GatewayTracer;
}

/**
 * Opens the gateway: its directories and storage (the previous run's records recovered), the
 * process manager over them, the providers started. A start that fails holds nothing open.
 */
export async function createGateway(config: Config, { log, registry, routing, cache, metrics = NO_METRICS, tracer }: GatewayDeps): Promise<Gateway> {
  prepareDirectories(config, (message) => log.warn(message));
  const storage = openJsonlStorage(config, log);
  try {
    // The retained events: where `seq` goes on from, and what `since` replays after a restart.
    const bus = new EventBus(config.eventRetention, await storage.events.since(0), (err) =>
      log.error({ err }, 'an event could not be recorded or delivered'),
    );
    recordEvents(bus, storage);
    const spend = new Spend();
    for (const entry of await storage.usage.query({ viewer: ANONYMOUS })) spend.add(entry);
    // After the ledger's own recorder: what a key spent counts once it is on disk.
    bus.record(async (e) => {
      const entry = e.type === 'PROCESS_COMPLETE' && e.internal?.record && usageEntry(e.internal.record);
      if (entry) spend.add(entry);
    });
    observeEvents(bus, metrics, (err) => log.warn({ err }, 'an event could not be counted in the metrics'));
    const router = new Router(registry, routing);
    const readiness = new Readiness();
    const autoSessions = config.autoSessions ? new AutoSessions() : undefined;
    const manager = new ProcessManager({ router, bus, sessions: storage.sessions, conversations: storage.conversations, autoSessions, readiness, metrics, tracer, config, log });
    await manager.recover(await storage.records.unfinished());
    for (const provider of registry.providers) provider.capabilities.lifecycle?.start();
    return new CoreGateway({ registry, router, storage, bus, manager, readiness, spend, cache, autoSessions, metrics, log });
  } catch (err) {
    await storage.close();
    throw err;
  }
}

const processNotFound = (id: string) => new NotFoundError(`process '${id}' does not exist`, 'id', 'process_not_found');
const sessionNotFound = (id: string) => new NotFoundError(`session '${id}' does not exist`, 'id', 'session_not_found');

/** What the subscriber asked for, of what it may see: another key's events are not sent, live or replayed. */
function wants({ filter: f, principal }: Subscription): (e: GatewayEvent) => boolean {
  return (e) =>
    visibleTo(principal, e.key_id) &&
    (!f.process_id || e.process_id === f.process_id) &&
    (!f.session_id || e.session_id === f.session_id) &&
    (!f.types || f.types.includes(e.type));
}

interface CoreParts {
  registry: ProviderRegistry;
  router: Router;
  storage: Storage;
  bus: EventBus;
  manager: ProcessManager;
  readiness: Readiness;
  spend: Spend;
  cache?: ResponseCache;
  autoSessions?: AutoSessions;
  metrics: GatewayMetrics;
  log: Logger;
}

class CoreGateway implements Gateway {
  private stopped: Promise<void> | undefined;
  private readonly registry: ProviderRegistry;
  private readonly router: Router;
  private readonly storage: Storage;
  private readonly bus: EventBus;
  private readonly manager: ProcessManager;
  private readonly readiness: Readiness;
  private readonly spend: Spend;
  private readonly cache?: ResponseCache;
  private readonly autoSessions?: AutoSessions;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;

  constructor(parts: CoreParts) {
    ({
      registry: this.registry,
      router: this.router,
      storage: this.storage,
      bus: this.bus,
      manager: this.manager,
      readiness: this.readiness,
      spend: this.spend,
      cache: this.cache,
      autoSessions: this.autoSessions,
      metrics: this.metrics,
      log: this.log,
    } = parts);
  }

  get closing(): boolean {
    return this.manager.closing;
  }

  get caching(): boolean {
    return this.cache !== undefined;
  }

  /**
   * The key's policy first (its allowed models, its budget: refused before anything runs), then the
   * response cache, then the process manager. A budgeted key's run may spend what the key has left.
   */
  async submit(job: Job, { principal, signal, cache = true }: SubmitOptions): Promise<ProcessHandle> {
    const allowed = principal.policy?.models;
    if (allowed && !allowed.includes(job.model)) throw new ModelNotAllowedError(job.model);
    const allowance = this.spend.allowance(principal);
    const owned = { ...job, owner: principal, request: allowance === undefined ? job.request : { ...job.request, budgetUsd: allowance } };
    const key = this.cache && cache ? cacheKey(job.model, job.request) : undefined;
    const hit = key === undefined ? undefined : await this.cache!.get(key);
    if (key !== undefined) this.metrics.cacheLookup(job.model, hit !== undefined);
    if (hit) return this.manager.answerCached(owned, hit);
    const handle = await this.manager.submit(owned);
    if (signal?.aborted) handle.cancel('client_disconnected');
    else signal?.addEventListener('abort', () => handle.cancel('client_disconnected'), { once: true });
    if (key !== undefined) this.keep(key, handle);
    return this.cache ? { ...handle, cache: 'miss' } : handle;
  }

  /** A completed answer goes into the cache (one waiting for tool results is not complete). */
  private keep(key: string, handle: ProcessHandle): void {
    void handle.done.then(async ({ result }) => {
      const record = handle.record();
      if (!result || record.status !== 'completed') return;
      const answer = { text: result.text, toolCalls: result.toolCalls, finishReason: result.finishReason, usage: result.usage, raw: result.raw };
      try {
        await this.cache!.set(key, { target: record.attempts.at(-1)!.target, result: answer, costUsd: record.cost_usd });
      } catch (err) {
        this.log.warn({ err }, 'an answer could not be kept in the response cache');
      }
    });
  }

  reconfigure(routing: RoutingSettings): void {
    this.router.update(routing);
  }

  async get(id: string, principal: Principal): Promise<ProcessRecord> {
    const record = await this.storage.records.get(id);
    if (!record || !visibleTo(principal, record.key_id)) throw processNotFound(id);
    return record;
  }

  list(query: Omit<ListQuery, 'viewer'>, principal: Principal): Promise<ProcessPage> {
    return this.storage.records.list({ ...query, viewer: principal });
  }

  async cancel(id: string, principal: Principal): Promise<ProcessRecord> {
    await this.get(id, principal);
    // One the manager no longer holds has finished: it is returned as it is.
    return (await this.manager.cancel(id, 'deleted')) ?? this.get(id, principal);
  }

  async listSessions(query: Omit<SessionListQuery, 'viewer'>, principal: Principal): Promise<SessionSummaryPage> {
    const { data, has_more } = await this.storage.sessions.list({ ...query, viewer: principal });
    return { data: await Promise.all(data.map((entry) => this.summarize(entry))), has_more };
  }

  async getSession(id: string, principal: Principal): Promise<SessionSummary> {
    const entry = await this.storage.sessions.get(id);
    if (!entry || !visibleTo(principal, entry.key_id)) throw sessionNotFound(id);
    return this.summarize(entry);
  }

  async deleteSession(id: string, principal: Principal, { purge }: { purge: boolean }): Promise<SessionSummary> {
    const session = await this.getSession(id, principal);
    if (this.manager.sessionBusy(id)) {
      throw new GatewayError(409, 'invalid_request_error', `session '${id}' has a process queued, running or waiting for tool results; cancel it first`, {
        param: 'id',
        code: 'session_busy',
      });
    }
    // Every provider that keeps sessions is asked (ids are unique): also right for a session whose provider is not recorded.
    // The transcript goes before the entry: a failure leaves the session there, to delete again.
    await Promise.all(this.registry.providers.map((p) => p.capabilities.sessionStore?.deleteSession(id)));
    await this.storage.conversations.remove(id);
    await this.storage.sessions.forget(id);
    this.autoSessions?.forget(id);
    if (purge) await this.storage.sessionLog.remove(id);
    return session;
  }

  private async summarize(entry: SessionEntry): Promise<SessionSummary> {
    const records = await this.storage.records.ofSession(entry.session_id);
    return summarizeSession(entry, records, (model) => this.registry.resolve(model)?.provider.name);
  }

  async usage({ groupBy, ...query }: Omit<UsageQuery, 'viewer'> & { groupBy: readonly UsageDimension[] }, principal: Principal): Promise<UsageRow[]> {
    return summarizeUsage(await this.storage.usage.query({ ...query, viewer: principal }), groupBy);
  }

  subscribe(subscription: Subscription, onEvent: (event: GatewayEvent) => void): () => void {
    const wanted = wants(subscription);
    const deliver = (e: GatewayEvent) => {
      if (wanted(e)) onEvent(e);
    };
    // Replay and subscribe in one synchronous step: no event can fall between the two.
    if (subscription.since !== undefined) for (const e of this.bus.since(subscription.since)) deliver(e);
    return this.bus.subscribe(deliver);
  }

  async ready(): Promise<Record<string, { version?: string; warnings?: string[] }>> {
    const providers = this.registry.providers;
    // All checked at once; the first unusable one, in registration order, is the answer.
    const checks = await Promise.allSettled(providers.map((p) => this.readiness.assert(p)));
    const versions: Record<string, { version?: string; warnings?: string[] }> = {};
    for (const [i, check] of checks.entries()) {
      if (check.status === 'rejected') throw check.reason;
      versions[providers[i]!.name] = { version: check.value.version, warnings: check.value.warnings };
    }
    return versions;
  }

  shutdown(graceMs: number): Promise<void> {
    this.stopped ??= (async () => {
      await this.manager.shutdown(graceMs);
      await Promise.all(this.registry.providers.map((p) => p.capabilities.lifecycle?.close()));
      await this.storage.close();
    })();
    return this.stopped;
  }

  models(): ModelInfo[] {
    return [...this.registry.models(), ...this.router.models()];
  }

  resolveModel(requested: string): string | undefined {
    return this.router.plan(requested)?.targets[0]?.model;
  }

  ownerOf(requested: string): string {
    const plan = this.router.plan(requested);
    return plan?.route ? 'gateway' : (plan?.targets[0]?.provider.name ?? 'gateway');
  }

  stats(): GatewayStats {
    return {
      running: this.manager.activeCount,
      queued: this.manager.queuedCount,
      lastSeq: this.bus.lastSeq,
      pool: summed(this.registry.providers.map((p) => p.capabilities.lifecycle?.stats())),
    };
  }
}

/** The counts added up by name; undefined when there are none. */
function summed(counts: (Record<string, number> | undefined)[]): Record<string, number> | undefined {
  let sum: Record<string, number> | undefined;
  for (const c of counts) {
    if (!c) continue;
    sum ??= {};
    for (const [name, n] of Object.entries(c)) sum[name] = (sum[name] ?? 0) + n;
  }
  return sum;
}
