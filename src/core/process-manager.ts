import { randomUUID } from 'node:crypto';
import { costOf } from '../../providers/pricing.js';
import { type Target, targetName } from '../../providers/registry.js';
import { type ChatRequest, type Message, type Provider, ProviderError, type ProviderEvent, type RunSession } from '../../providers/types.js';
import type { Config } from '../config.js';
import {
  type CancelReason,
  CancelledError,
  DeadlineError,
  GatewayError,
  NotFoundError,
  QueueFullError,
  ServiceUnavailableError,
  InvalidRequestError,
  fromProviderError,
  knownError,
  modelNotFound,
} from './errors.js';
import { continueConversation, turnToStore } from './conversation.js';
import type { EventBus, PublishOptions } from './event-bus.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import { NO_TRACER, type GatewayTracer, type TraceSpan } from './tracing.js';
import { type Principal, visibleTo } from './ownership.js';
import type { CachedAnswer, ConversationStore, SessionDirectory, SessionEntry } from './ports.js';
import { nextRecord } from './process-record.js';
import { type NewEvent, type NewEventOf, type ProcessRecord, nowSeconds, terminalStatus } from './process-types.js';
import type { AutoSessions } from './auto-sessions.js';
import type { Readiness } from './readiness.js';
import { retryDelayMs } from './retry-policy.js';
import type { Plan, Router } from './routing.js';
import { RunChannel } from './run-channel.js';
import type { CompletionJob, Outcome, RunEvent, RunIds, RunResult } from './run-types.js';
import { routeToolResults } from './session-intent.js';
import { ToolWaits } from './tool-waits.js';

export interface ProcessHandle {
  id: string;
  /** The session the run is in (a new one's id is picked at submission). */
  sessionId: string;
  ids: RunIds;
  /** The process's record as the manager last published it. */
  record(): ProcessRecord;
  /** Resolves once the run has its answer (or waits for client calls), or failed; `error` is set then. */
  done: Promise<Outcome>;
  /**
   * The run's events as they happen, for one reader, ending with the outcome; for a job that does
   * not stream, only the outcome (nothing else is kept for a reader that may never come).
   */
  events: AsyncIterable<RunEvent>;
  cancel(reason: CancelReason): void;
  /** With the response cache on: whether the answer came from it. */
  cache?: 'hit' | 'miss';
}

/**
 * One target a job may run on, prepared by its provider. A stateless provider (one that keeps no
 * sessions) is sent the session's stored history, and the turn is stored for the next one.
 */
interface Candidate {
  target: Target;
  name: string;
  prepared: unknown;
  /** For a stateless provider: what to append to the session's stored conversation once answered. */
  conversation?: { prefix: Message[]; sent: Message[] };
  /**
   * The session is one the provider does not have (a cached answer's), but the gateway has its
   * conversation: the provider starts it under its id from the whole of it.
   */
  replays?: boolean;
}

/** A job as its provider runs it: the current candidate's provider and prepared request, placed in its session. */
type PlacedRequest = RunSession & { provider: Provider; prepared: unknown };

/** A process's record as the manager last published it: what it reports, never read back from the store. */
interface Published {
  record?: ProcessRecord;
}

interface Run {
  id: string;
  /** The process's span, and the spans open under it (the queue wait, a tool's use) by key. */
  span: TraceSpan;
  spans: Map<string, TraceSpan>;
  published: Published;
  ids: RunIds;
  job: CompletionJob;
  request: PlacedRequest;
  /** The targets to try, in order (the first is the one `request` was placed for), and how. */
  candidates: Candidate[];
  plan: Plan;
  /** The candidate running now. */
  current: Candidate;
  /** Something of the run reached the client or a subscriber (a delta, a tool's activity): it is not tried again. */
  delivered: boolean;
  controller: AbortController;
  events: RunChannel;
  finished: boolean;
  cliMs?: number;
  /** Its first output was counted (time to first token). */
  firstOutput?: boolean;
  /** What the run cost, once its provider said (null: unknown). */
  costUsd?: number | null;
  resolve: (outcome: Outcome) => void;
  done: Promise<Outcome>;
  /** Resolves once the run has fully ended (the CLI gone, its slot free), after `done`. */
  ended?: Promise<void>;
  log: Logger;
}

export interface ProcessManagerDeps {
  /** Which targets serve a job's model, and how they are retried. */
  router: Router;
  bus: EventBus;
  sessions: SessionDirectory;
  /** The conversations of sessions on stateless providers. */
  conversations: ConversationStore;
  /** Conversations that find their own session (AUTO_SESSIONS); absent: off. */
  autoSessions?: AutoSessions;
  readiness: Readiness;
  /** Told what no event carries (first tokens, cooldowns, upstream errors); default: none. */
  metrics?: GatewayMetrics;
  /** Where spans go (src/telemetry/); default: nowhere. */
  tracer?: GatewayTracer;
  config: Config;
  log: Logger;
}

/**
 * Owns every completion's lifecycle: queued → running → completed | failed | cancelled.
 * At most MAX_CONCURRENCY runs at once and MAX_QUEUE waiting; the turns of one session run one at a
 * time in arrival order (the CLI's transcript branches otherwise), other sessions in parallel.
 * Every transition is published on the bus; the store, the logs and the WebSocket follow from it.
 */
export class ProcessManager {
  private readonly pending: Run[] = [];
  private readonly running = new Map<string, Run>();
  private readonly busySessions = new Set<string>();
  private readonly runs = new Map<string, Run>();
  /** The processes not completed yet (running, queued or waiting), by id. */
  private readonly published = new Map<string, Published>();
  /** The last admission under way: admissions go one at a time (see enqueue). */
  private admission: Promise<unknown> = Promise.resolve();
  /** The last event on its way (see publish). */
  private publishing: Promise<unknown> = Promise.resolve();
  /** Processes whose run waits for client tool results. */
  private readonly waits: ToolWaits;
  private isClosing = false;
  private avgRunMs = 5_000;

  constructor(private readonly deps: ProcessManagerDeps) {
    const waitingRuns = deps.router.providers.flatMap((p) => p.capabilities.waitingRuns ?? []);
    this.waits = new ToolWaits({
      ttlMs: deps.config.toolWaitTtlMs,
      publish: (event) => this.publish(event),
      complete: async (event) => {
        await this.complete(deps.log, event);
      },
      // Session ids are unique: only the provider whose run waits in the session has anything to interrupt.
      interrupt: async (sessionId) => {
        await Promise.all(
          waitingRuns.map(async (w) => {
            try {
              await w.cancelWaitingRun(sessionId);
            } catch (err) {
              deps.log.error({ err, session_id: sessionId }, 'a run waiting for tool results could not be interrupted');
            }
          }),
        );
      },
    });
    // A waiting run whose process is gone fails now, not when its TTL runs out.
    for (const w of waitingRuns) w.onWaitingRunLost((sessionId, why) => this.waits.lost(sessionId, why));
  }

  /** True once shutdown began: new work is refused. */
  get closing(): boolean {
    return this.isClosing;
  }

  get activeCount(): number {
    return this.running.size;
  }

  get queuedCount(): number {
    return this.pending.length;
  }

  /**
   * Runs a job: resolves its model to the targets that serve it (a route's, in order, those cooling
   * down left out; a continued session's provider only), routes its tool results to the run that
   * waits for them, has each target's provider check and prepare it (their 400s come first, when no
   * target takes it), keeps the usable ones, places the job in its session (a new one on a reserved
   * warm process of the first target, when one is ready) and queues it. Whatever fails after the
   * reservation gives it back: a refused job never holds a warm process.
   */
  async submit(job: CompletionJob): Promise<ProcessHandle> {
    const { router } = this.deps;
    const plan = router.plan(job.model);
    if (!plan) throw modelNotFound(job.model);
    const routed = routeToolResults(job.request, (ids) => this.waitingSession(ids, job.owner));
    const chat = routed.answersWaitingRun ? routed.request : await this.continuedAutomatically(job, plan);
    const intent = chat.session;
    const entry = intent.kind === 'new' ? undefined : await this.visibleSession(intent.sessionId, job.owner);
    const targets = this.sessionTargets(job.model, plan.route ? router.cooldowns.order(plan.targets, targetName) : plan.targets, entry);
    const candidates = await this.usable(await this.prepareAll(targets, chat, entry));
    const request = await this.place(candidates[0]!, chat, routed.answersWaitingRun);
    try {
      return await this.enqueue(job, request, plan, candidates);
    } catch (err) {
      this.releaseReservation(request);
      throw err;
    }
  }

  /**
   * A new-session request whose messages begin with an earlier exchange of the same key and settings
   * continues that exchange's session (AutoSessions), when the owner may and a target of the model
   * can: its provider keeps (or the gateway stores) the rest of the conversation.
   */
  private async continuedAutomatically(job: CompletionJob, plan: Plan): Promise<ChatRequest> {
    const { autoSessions } = this.deps;
    if (!autoSessions || job.request.session.kind !== 'new') return job.request;
    const found = autoSessions.find(job.owner.keyId, job.model, job.request);
    const entry = found && (await this.visibleSession(found.sessionId, job.owner));
    if (!entry || (entry.provider && !plan.targets.some((t) => t.provider.name === entry.provider))) return job.request;
    return { ...job.request, session: { kind: 'continue', sessionId: entry.session_id } };
  }

  /** The session a job continues or forks, if it exists and the owner may see it (else it is left to `resumable` to refuse). */
  private async visibleSession(sessionId: string, owner: Principal): Promise<SessionEntry | undefined> {
    const entry = await this.deps.sessions.get(sessionId);
    return entry && visibleTo(owner, entry.key_id) ? entry : undefined;
  }

  /** A session stays on the provider that started it: only that provider's targets may continue it. */
  private sessionTargets(model: string, targets: Target[], entry: SessionEntry | undefined): Target[] {
    if (!entry?.provider) return targets;
    const same = targets.filter((t) => t.provider.name === entry.provider);
    if (same.length) return same;
    throw new InvalidRequestError(
      `session '${entry.session_id}' runs on the provider '${entry.provider}'; '${model}' is served by '${targets[0]!.provider.name}': continue it with a model of '${entry.provider}'`,
      'model',
      'session_provider_mismatch',
    );
  }

  /** Each target's prepared request; the first target's refusal when none takes it. */
  private async prepareAll(targets: Target[], request: ChatRequest, entry: SessionEntry | undefined): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    let refusal: unknown;
    for (const target of targets) {
      try {
        candidates.push(await this.prepare(target, request, entry));
      } catch (err) {
        refusal ??= err;
      }
    }
    if (!candidates.length) throw refusal;
    return candidates;
  }

  /**
   * A target's provider prepares the request. A stateless one continuing (or forking) a session is
   * sent the session's stored conversation with the request's new messages, as a new conversation.
   */
  private async prepare(target: Target, request: ChatRequest, entry: SessionEntry | undefined): Promise<Candidate> {
    const { provider } = target;
    const name = targetName(target);
    const chat = { ...request, model: target.model };
    if (provider.capabilities.sessionStore) {
      const replayed = entry && request.session.kind === 'continue' && (await this.replayable(provider, entry.session_id));
      if (!replayed) return { target, name, prepared: provider.prepare(chat) };
      const messages = continueConversation(replayed, chat.messages);
      return { target, name, prepared: provider.prepare({ ...chat, messages, session: { kind: 'new' } }), replays: true };
    }
    const history = entry ? await this.deps.conversations.history(entry.session_id) : [];
    const messages = request.session.kind === 'new' ? chat.messages : continueConversation(history, chat.messages);
    const prepared = provider.prepare({ ...chat, messages, session: { kind: 'new' } });
    const prefix = request.session.kind === 'fork' ? history : [];
    return { target, name, prepared, conversation: { prefix, sent: request.messages } };
  }

  /** The stored conversation of a session its (stateful) provider does not have, if the gateway has one. */
  private async replayable(provider: Provider, sessionId: string): Promise<Message[] | undefined> {
    if (await provider.hasSession(sessionId)) return undefined;
    const history = await this.deps.conversations.history(sessionId);
    return history.length ? history : undefined;
  }

  /** The candidates whose provider is usable (the first one's 503 when none is). */
  private async usable(candidates: Candidate[]): Promise<Candidate[]> {
    const checks = await Promise.allSettled(candidates.map((c) => this.deps.readiness.assert(c.target.provider)));
    const ok = candidates.filter((_, i) => checks[i]!.status === 'fulfilled');
    if (!ok.length) throw (checks[0] as PromiseRejectedResult).reason;
    return ok;
  }

  /** A prepared request in the session it continues (a fork starts from it), or in a new one. */
  private async place(candidate: Candidate, request: ChatRequest, answersWaitingRun: boolean): Promise<PlacedRequest> {
    const { sessions, config } = this.deps;
    const { provider } = candidate.target;
    const { prepared } = candidate;
    if (request.session.kind !== 'new') {
      const sessionId = request.session.sessionId;
      const cwd = (await sessions.get(sessionId))?.cwd || config.workdir;
      return { provider, prepared, sessionId, resume: !candidate.replays, cwd, answersWaitingRun };
    }
    const reserved = provider.capabilities.sessionReservation?.reserveSession(prepared, config.workdir);
    return { provider, prepared, sessionId: reserved ?? randomUUID(), resume: false, cwd: config.workdir, answersWaitingRun };
  }

  /** A new session's reserved process goes back to the provider when its job never runs. */
  private releaseReservation(request: PlacedRequest): void {
    if (!request.resume) request.provider.capabilities.sessionReservation?.releaseSession(request.sessionId);
  }

  /** The session whose run waits for these client calls, if one does and `owner` may answer it. */
  waitingSession(toolCallIds: string[], owner: Principal): string | undefined {
    return this.waits.find(toolCallIds, owner);
  }

  private async enqueue(job: CompletionJob, request: PlacedRequest, plan: Plan, candidates: Candidate[]): Promise<ProcessHandle> {
    if (this.isClosing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    const sid = request.sessionId;
    if (request.resume && !(await this.resumable(sid, job.owner, request.provider))) {
      throw new NotFoundError(`session ${sid} does not exist`, 'session_id', 'session_not_found');
    }
    // One admission at a time: the queue's checks and the queueing stay one step however late the stores answer.
    const admitted = this.admission.then(() => this.admit(job, request, plan, candidates));
    this.admission = admitted.catch(() => undefined);
    return admitted;
  }

  /** Queues a job once its session and its process are recorded, or refuses it (shutting down, queue full). */
  private async admit(job: CompletionJob, request: PlacedRequest, plan: Plan, candidates: Candidate[]): Promise<ProcessHandle> {
    const { config, sessions } = this.deps;
    // Again: shutdown may have begun while the session was looked up, or earlier admissions were.
    if (this.isClosing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    const sid = request.sessionId;
    const startsNow =
      this.running.size < config.maxConcurrency && !this.busySessions.has(sid) && !this.pending.some((r) => r.request.sessionId === sid);
    if (!startsNow && this.pending.length >= config.maxQueue) throw new QueueFullError(this.retryAfterSeconds());
    if (!request.resume) {
      const entry = { session_id: sid, cwd: request.cwd, created_at: nowSeconds(), key_id: job.owner.keyId, provider: request.provider.name, model: job.model };
      await sessions.register(entry);
    }

    const id = `proc_${randomUUID().replaceAll('-', '')}`;
    let resolve!: (o: Outcome) => void;
    const done = new Promise<Outcome>((r) => (resolve = r));
    // Started here, in the submitter's context: a child of the request it serves.
    const span = (this.deps.tracer ?? NO_TRACER).process({
      'gateway.process.id': id,
      'gateway.session.id': sid,
      'gateway.key.id': job.owner.keyId ?? undefined,
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': job.model,
    });
    const run: Run = {
      id,
      span,
      spans: new Map([['queue', span.child('gateway.queue')]]),
      published: {},
      ids: { completionId: randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), model: job.model, processId: id },
      job,
      request,
      candidates,
      plan,
      current: candidates[0]!,
      delivered: false,
      controller: new AbortController(),
      events: new RunChannel(),
      finished: false,
      resolve,
      done,
      log: this.deps.log.child({ process_id: id, session_id: sid, key_id: job.owner.keyId }),
    };
    this.runs.set(id, run);
    this.published.set(id, run.published);
    try {
      await this.publish({
        type: 'PROCESS_QUEUED',
        ts: nowSeconds(),
        process_id: id,
        session_id: sid,
        status: 'queued',
        model: job.model,
        key_id: job.owner.keyId,
        internal: { messages: job.messages, target: candidates[0]!.name, meta: job.meta },
      });
    } catch (err) {
      // Not recorded, so not run: the client gets the error, the record (as far as it got) ends failed.
      this.runs.delete(id);
      await this.finish(run, this.asGatewayError(run.log, err));
      throw (await run.done).error;
    }
    this.pending.push(run);
    this.pump();
    return {
      id,
      sessionId: sid,
      ids: run.ids,
      record: () => run.published.record!,
      done,
      events: run.events,
      cancel: (reason) => void this.cancel(id, reason),
    };
  }

  /**
   * Answers a job from the response cache: a process of its own, queued, started and completed at
   * once, that takes no slot and costs nothing; its usage counts every prompt token as cached.
   */
  async answerCached(job: CompletionJob, cached: CachedAnswer): Promise<ProcessHandle> {
    if (this.isClosing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    const id = `proc_${randomUUID().replaceAll('-', '')}`;
    const sid = randomUUID();
    const ids: RunIds = { completionId: randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), model: job.model, processId: id };
    const u = cached.result.usage;
    const usage = { inputTokens: 0, outputTokens: u.outputTokens, cacheReadTokens: u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens, cacheCreationTokens: 0 };
    const result: RunResult = { ...cached.result, ...ids, sessionId: sid, usage };
    const base = { process_id: id, session_id: sid, model: job.model, key_id: job.owner.keyId };
    // The answer's session can be continued like any other: its provider is the target's, and the
    // gateway keeps its conversation (a provider that keeps sessions starts it from that).
    const provider = cached.target.slice(0, cached.target.indexOf('/'));
    const cwd = this.deps.config.workdir;
    await this.deps.sessions.register({ session_id: sid, cwd, created_at: nowSeconds(), key_id: job.owner.keyId, provider, model: job.model });
    await this.deps.conversations.append(sid, turnToStore(job.request.messages, result));
    const published: Published = {};
    this.published.set(id, published);
    await this.publish({ ...base, type: 'PROCESS_QUEUED', ts: nowSeconds(), status: 'queued', internal: { messages: job.messages, target: cached.target, meta: job.meta } });
    await this.publish({ ...base, type: 'PROCESS_STARTED', ts: nowSeconds(), status: 'running' });
    const failure = await this.complete(this.deps.log, { ...base, type: 'PROCESS_COMPLETE', ts: nowSeconds(), status: 'completed', result, internal: { costUsd: 0 } });
    const outcome: Outcome = failure ? { error: failure } : { result };
    if (!failure) this.remember(job, result);
    const events = new RunChannel();
    // A streamed hit sends the whole answer as one delta.
    if (job.request.stream && result.text) events.push({ type: 'text', text: result.text });
    events.push({ type: 'outcome', outcome });
    return {
      id,
      sessionId: sid,
      ids,
      record: () => published.record!,
      done: Promise.resolve(outcome),
      events,
      cancel: () => undefined,
      cache: 'hit',
    };
  }

  /** Whether a process of the session is queued, running, or waiting for client tool results. */
  sessionBusy(sessionId: string): boolean {
    // Running until its provider is done with it (a pooled process back in the pool), not just answered.
    const holds = (run: Run) => run.request.sessionId === sessionId;
    if (this.pending.some(holds) || [...this.running.values()].some(holds)) return true;
    for (const { record } of this.published.values()) if (record?.session_id === sessionId) return true;
    return false;
  }

  /** Another key's session is as unknown as one that does not exist; one only the provider knows has no owner. */
  private async resumable(sid: string, owner: Principal, provider: Provider): Promise<boolean> {
    const session = await this.deps.sessions.get(sid);
    if (session) return visibleTo(owner, session.key_id);
    return visibleTo(owner, null) && provider.hasSession(sid);
  }

  /**
   * Cancels a queued, running or waiting process and resolves with its record once it has stopped
   * (the CLI killed); undefined for one the manager does not hold (completed, or unknown).
   */
  async cancel(id: string, reason: CancelReason): Promise<ProcessRecord | undefined> {
    const held = this.published.get(id);
    if (await this.waits.cancel(id, reason)) return held?.record;
    const run = this.runs.get(id);
    if (run && !run.finished) {
      const at = this.pending.indexOf(run);
      if (at >= 0) {
        this.pending.splice(at, 1);
        this.releaseReservation(run.request);
        this.finish(run, new CancelledError(reason));
      } else {
        run.controller.abort(new CancelledError(reason));
      }
      await run.done;
    }
    return held?.record;
  }

  /** Stops accepting, lets running processes finish within the grace period, cancels the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.isClosing = true;
    // Their ends recorded before anything closes.
    await Promise.all([...[...this.pending].map((run) => this.cancel(run.id, 'shutdown')), this.waits.cancelAll('shutdown')]);
    const all = () => Promise.all([...this.running.values()].map((r) => r.ended));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const run of [...this.running.values()]) run.controller.abort(new CancelledError('shutdown'));
    await all();
  }

  private retryAfterSeconds(): number {
    const waves = (this.pending.length + 1) / this.deps.config.maxConcurrency;
    return Math.min(60, Math.max(1, Math.ceil((waves * this.avgRunMs) / 1000)));
  }

  private pump(): void {
    const max = this.deps.config.maxConcurrency;
    for (let i = 0; i < this.pending.length && this.running.size < max; ) {
      const run = this.pending[i]!;
      if (this.busySessions.has(run.request.sessionId)) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.start(run);
    }
  }

  private start(run: Run): void {
    this.running.set(run.id, run);
    this.busySessions.add(run.request.sessionId);
    run.ended = this.begin(run);
  }

  /** Starts the run once its start is recorded; one whose start cannot be recorded fails without reaching the provider. */
  private async begin(run: Run): Promise<void> {
    run.spans.get('queue')?.end();
    run.spans.delete('queue');
    const sid = run.request.sessionId;
    // The session's next turn answers (or abandons) the calls its last process waited for.
    this.waits.nextTurn(sid, run.request.answersWaitingRun);
    try {
      await this.publish({
        type: 'PROCESS_STARTED',
        ts: nowSeconds(),
        process_id: run.id,
        session_id: sid,
        status: 'running',
        model: run.job.model,
        key_id: run.job.owner.keyId,
      });
    } catch (err) {
      this.releaseReservation(run.request);
      await this.finish(run, this.asGatewayError(run.log, err));
      this.release(run);
      return;
    }
    await this.execute(run);
  }

  /** The run's slot and session are free: the next runs may start. */
  private release(run: Run): void {
    this.running.delete(run.id);
    this.busySessions.delete(run.request.sessionId);
    this.runs.delete(run.id);
    this.pump();
  }

  private async execute(run: Run): Promise<void> {
    const { config } = this.deps;
    const started = Date.now();
    const deadlineAt = started + config.requestTimeoutMs;
    const deadline = setTimeout(
      () => run.controller.abort(new DeadlineError(config.requestTimeoutMs)),
      config.requestTimeoutMs,
    );
    try {
      // A run the session abandoned stops before this turn starts (one process, one run at a time).
      await this.waits.interrupted(run.request.sessionId);
      await this.attempt(run, deadlineAt);
    } catch (err) {
      // Also a tool event that could not be recorded: the run stops with that error.
      if (!run.finished) await this.finish(run, this.asGatewayError(run.log, err));
    } finally {
      clearTimeout(deadline);
      this.avgRunMs = this.avgRunMs * 0.8 + (Date.now() - started) * 0.2;
      this.release(run);
    }
  }

  /**
   * Tries the run's candidates in order, each as often as the retry policy allows, while nothing of
   * the run has reached anyone: a retryable failure is tried again after a backoff (or the upstream's
   * Retry-After), then the next target; every failed try is a PROCESS_RETRY event. Throws what ends
   * the run (the last failure, a cancellation, the deadline).
   */
  private async attempt(run: Run, deadlineAt: number): Promise<void> {
    const { router } = this.deps;
    for (let i = 0; ; i++) {
      const candidate = run.current;
      // The target's share of what is left: its tries and their waits, whatever happens, leave the
      // targets after it theirs.
      const targetDeadline = Date.now() + Math.ceil(Math.max(1, deadlineAt - Date.now()) / (run.candidates.length - i));
      const last = i === run.candidates.length - 1;
      for (let tries = 1; ; tries++) {
        // The last target has no one to leave time for: unless the route bounds its tries, the request's deadline is its own.
        const timeoutMs = last && run.plan.attemptTimeoutMs === undefined ? undefined : this.attemptTimeoutMs(run, targetDeadline);
        const failure = await this.tryOnce(run, candidate, timeoutMs);
        if (!failure) {
          router.cooldowns.succeeded(candidate.name);
          return;
        }
        if (failure.retryable && router.cooldowns.failed(candidate.name)) this.deps.metrics?.cooledDown(candidate.name);
        // One that retries by itself (the CLI) is tried once: its own retries are bounded by the same policy.
        const again = candidate.target.provider.capabilities.retriesItself ? undefined : retryDelayMs(run.plan.retry, tries, failure, targetDeadline - Date.now());
        const next = again !== undefined ? candidate : movesOn(failure) ? run.candidates[i + 1] : undefined;
        if (!next) throw failure;
        await this.publishRetry(run, candidate, failure, next, again ?? 0);
        if (again === undefined) {
          this.switchTo(run, next);
          break;
        }
        await sleep(again, run.controller.signal);
      }
    }
  }

  /**
   * One try of a candidate: undefined once the run has its outcome, else the ProviderError it
   * failed with while it may still be tried again (nothing delivered). Anything else is thrown.
   */
  private async tryOnce(run: Run, candidate: Candidate, timeoutMs: number | undefined): Promise<ProviderError | undefined> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(run.controller.signal.reason);
    run.controller.signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => controller.abort(new ProviderError('timeout', `${candidate.name} did not answer within ${timeoutMs} ms`, { code: 'upstream_timeout' })),
            timeoutMs,
          );
    const span = run.span.child('gateway.attempt', { 'gateway.target': candidate.name, 'gen_ai.system': candidate.target.provider.name });
    try {
      const { provider, prepared, ...session } = run.request;
      for await (const ev of provider.run(prepared, session, controller.signal)) {
        await this.onEvent(run, ev);
        // The try's deadline leaves time for the targets after it; once something reached the client
        // there is no moving on, and cutting the answer would only break it: the request's deadline is left.
        if (run.delivered) clearTimeout(timer);
      }
      if (!run.finished) throw new ProviderError('bad_output', 'the provider ended without a result', { code: 'bad_cli_output' });
      return undefined;
    } catch (err) {
      if (err instanceof ProviderError) this.deps.metrics?.upstreamError(candidate.target.provider.name, err.kind);
      span.fail({ code: err instanceof ProviderError ? err.code : null, message: err instanceof Error ? err.message : String(err) });
      if (run.finished || run.delivered || run.controller.signal.aborted || !(err instanceof ProviderError)) throw err;
      return err;
    } finally {
      span.end();
      clearTimeout(timer);
      run.controller.signal.removeEventListener('abort', onAbort);
    }
  }

  /** A try's deadline: the route's `timeout_ms`, within what is left of its target's share. */
  private attemptTimeoutMs(run: Run, targetDeadline: number): number {
    const left = Math.max(1, targetDeadline - Date.now());
    return Math.min(left, run.plan.attemptTimeoutMs ?? left);
  }

  /** The run goes on with another target, in the same session (a new one, for a provider that did not place it). */
  private switchTo(run: Run, next: Candidate): void {
    run.current = next;
    run.request = { ...run.request, provider: next.target.provider, prepared: next.prepared };
    run.log.info({ target: next.name }, 'falling back to the next target');
  }

  private publishRetry(run: Run, failed: Candidate, error: ProviderError, next: Candidate, delayMs: number): Promise<void> {
    run.log.warn({ target: failed.name, code: error.code, next: next.name, delay_ms: delayMs }, `attempt failed: ${error.message}`);
    return this.publish({
      type: 'PROCESS_RETRY',
      ts: nowSeconds(),
      process_id: run.id,
      session_id: run.request.sessionId,
      status: 'running',
      model: run.job.model,
      target: failed.name,
      error: fromProviderError(error).toJSON(),
      next_target: next.name,
      delay_ms: delayMs,
      key_id: run.job.owner.keyId,
    });
  }

  private async onEvent(run: Run, ev: ProviderEvent): Promise<void> {
    if (run.finished) return;
    if (!run.firstOutput) this.firstOutput(run);
    // Deltas are kept for a reader only when the job streams: nobody reads them otherwise.
    if (ev.type !== 'result' && run.job.request.stream) {
      run.delivered = true;
      run.events.push(ev);
    }
    const base = {
      ts: nowSeconds(),
      process_id: run.id,
      session_id: run.request.sessionId,
      status: 'running' as const,
      model: run.job.model,
      key_id: run.job.owner.keyId,
    };
    switch (ev.type) {
      case 'tool_use':
        run.spans.set(ev.id, run.span.child('gateway.tool', { 'gen_ai.tool.name': ev.name, 'gen_ai.tool.call.id': ev.id }));
        run.delivered = true;
        await this.publish({ ...base, type: 'PROCESS_TOOL_USE', tool_use_id: ev.id, name: ev.name, input: ev.input });
        break;
      case 'tool_result':
        if (ev.isError) run.spans.get(ev.toolUseId)?.fail({ message: 'the tool failed' });
        run.spans.get(ev.toolUseId)?.end();
        run.spans.delete(ev.toolUseId);
        run.delivered = true;
        await this.publish({
          ...base,
          type: 'PROCESS_TOOL_RESULT',
          tool_use_id: ev.toolUseId,
          content: ev.content,
          is_error: ev.isError,
        });
        break;
      case 'result': {
        const { cliMs, costUsd, ...result } = ev.result;
        const price = this.deps.router.price(run.current.target, run.job.model);
        run.cliMs = cliMs;
        run.costUsd = price ? costOf(price, result.usage) : costUsd;
        await this.finish(run, { ...result, ...run.ids });
        break;
      }
      default:
        break;
    }
  }

  /** The run's first output (a delta, a tool call, or its whole answer at once): its time to first token, from its start. */
  private firstOutput(run: Run): void {
    run.firstOutput = true;
    const started = run.published.record?.started_at;
    if (started != null) this.deps.metrics?.firstToken(run.job.model, Math.max(0, nowSeconds() - started));
  }

  private asGatewayError(log: Logger, err: unknown): GatewayError {
    const known = knownError(err);
    if (known) return known;
    log.error({ err }, 'unexpected error in a run');
    return new GatewayError(500, 'api_error', 'internal error while running the completion', { code: 'internal_error' });
  }

  /** The run stopped at client function calls: answered once that is recorded, it waits for their results. */
  private requireAction(run: Run, result: RunResult): void {
    run.finished = true; // its events end here
    const wait = { processId: run.id, sessionId: result.sessionId, model: run.job.model, keyId: run.job.owner.keyId, result };
    this.waits.park(wait).then(
      () => this.settle(run, { result, cliMs: run.cliMs }),
      (err) => {
        // A wait that could not be recorded is not kept (its run is let go): the process fails instead.
        run.finished = false;
        void this.finish(run, this.asGatewayError(run.log, err));
      },
    );
  }

  private async finish(run: Run, outcome: RunResult | GatewayError): Promise<void> {
    if (run.finished) return;
    const error = outcome instanceof GatewayError ? outcome : undefined;
    const result = outcome instanceof GatewayError ? undefined : outcome;
    if (result) this.remember(run.job, result);
    // The provider stopped at client calls: the process waits for their results, in a provider that
    // keeps waiting runs; a stateless one has simply answered (the client's next request brings them).
    if (result?.finishReason === 'tool_calls' && result.toolCalls?.length && run.request.provider.capabilities.waitingRuns) {
      this.requireAction(run, result);
      return;
    }
    run.finished = true;
    const status = terminalStatus(error);
    if (error && status === 'failed') run.log.warn({ status: error.status, code: error.code }, error.message);
    const unstored = result && (await this.storeTurn(run, result));
    if (unstored) {
      await this.settleUnrecorded(run, unstored);
      return;
    }
    const unrecorded = await this.complete(run.log, {
      type: 'PROCESS_COMPLETE',
      ts: nowSeconds(),
      process_id: run.id,
      session_id: result?.sessionId ?? run.request.sessionId,
      status,
      model: run.job.model,
      key_id: run.job.owner.keyId,
      ...(error ? { error: error.toJSON(), internal: { claude: error.raw } } : { result, internal: { costUsd: run.costUsd ?? null } }),
    });
    this.settle(run, unrecorded ? { error: unrecorded, cliMs: run.cliMs } : { result, error, cliMs: run.cliMs });
  }

  /**
   * An answered turn, for conversations that find their own session: a request that carried the
   * whole conversation is an exchange to continue; a turn by `session_id` moved the session on.
   */
  private remember(job: CompletionJob, result: RunResult): void {
    const { autoSessions } = this.deps;
    if (job.request.session.kind === 'new') autoSessions?.record(job.owner.keyId, job.model, job.request, result.sessionId, result);
    else autoSessions?.movedOn(result.sessionId);
  }

  /**
   * A stateless provider's answered turn goes into the session's stored conversation (its next turn
   * is sent it), and a session another provider placed is now this one's. Returns the error when that
   * cannot be written: the turn would be lost, so the process fails.
   */
  private async storeTurn(run: Run, result: RunResult): Promise<GatewayError | undefined> {
    const { conversation } = run.current;
    const sid = run.request.sessionId;
    try {
      const provider = run.current.target.provider;
      if (!run.request.resume && provider !== run.candidates[0]!.target.provider) await this.deps.sessions.reassign(sid, provider.name);
      if (conversation) await this.deps.conversations.append(sid, [...conversation.prefix, ...turnToStore(conversation.sent, result)]);
      return undefined;
    } catch (err) {
      return this.asGatewayError(run.log, err);
    }
  }

  /** The run's outcome could not be kept: the process fails with that error. */
  private async settleUnrecorded(run: Run, error: GatewayError): Promise<void> {
    run.log.error({ code: error.code }, `${error.message}: the process fails with this error`);
    const unrecorded = await this.complete(run.log, {
      type: 'PROCESS_COMPLETE',
      ts: nowSeconds(),
      process_id: run.id,
      session_id: run.request.sessionId,
      status: 'failed',
      model: run.job.model,
      key_id: run.job.owner.keyId,
      error: error.toJSON(),
    });
    this.settle(run, { error: unrecorded ?? error, cliMs: run.cliMs });
  }

  /** Tells the submitter how the run ended: `done`, and the last of its events. */
  private settle(run: Run, outcome: Outcome): void {
    endSpans(run, outcome);
    run.resolve(outcome);
    run.events.push({ type: 'outcome', outcome });
  }

  /**
   * Publishes a process's terminal event. One that cannot be recorded fails the process with that
   * error instead (recorded as far as the disk allows, and told to subscribers): a client never
   * gets a 2xx for an answer that is not on disk. Returns that error, if it came to it.
   */
  private async complete(log: Logger, event: NewEventOf<'PROCESS_COMPLETE'>): Promise<GatewayError | undefined> {
    try {
      await this.publish(event);
      return undefined;
    } catch (err) {
      const failure = this.asGatewayError(log, err);
      log.error({ err: failure.cause ?? err, code: failure.code }, `${failure.message}: the process fails with this error`);
      await this.publish(
        { ...event, ts: nowSeconds(), status: 'failed', result: undefined, error: failure.toJSON(), internal: undefined },
        { bestEffort: true },
      );
      return failure;
    }
  }

  /**
   * Publishes a process's event with the record it leads to, which the store keeps, and keeps that
   * record too, unless the event could not be recorded (the store then has the previous one). One
   * event at a time, in call order: each record follows from the last one recorded.
   */
  private publish(event: NewEvent, opts?: PublishOptions): Promise<void> {
    const published = this.publishing.then(async () => {
      const held = this.published.get(event.process_id);
      const record = nextRecord(held?.record, event);
      await this.deps.bus.publish(record ? { ...event, internal: { ...event.internal, record } } : event, opts);
      if (held && record) held.record = record;
      if (event.type === 'PROCESS_COMPLETE') this.published.delete(event.process_id);
    });
    this.publishing = published.catch(() => undefined);
    return published;
  }

  /** Fails what a previous run of the gateway left unfinished: it can never finish now. */
  async recover(unfinished: ProcessRecord[]): Promise<void> {
    for (const record of unfinished) {
      this.published.set(record.id, { record });
      await this.publish({
        type: 'PROCESS_COMPLETE',
        ts: nowSeconds(),
        process_id: record.id,
        session_id: record.session_id,
        status: 'failed',
        model: record.model,
        key_id: record.key_id,
        error: {
          message: `the gateway stopped while this process was ${record.status}; it did not complete`,
          type: 'api_error',
          param: null,
          code: 'gateway_restarted',
        },
      });
    }
  }
}

/** Whether a failure lets the next target try: a retryable one, or one of this target alone (its credentials, its model, its availability). */
function movesOn(err: ProviderError): boolean {
  return err.retryable || ['auth', 'permission', 'not_found', 'unavailable'].includes(err.kind);
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The run's spans end with its outcome: what it served, used and cost, or why it failed. */
function endSpans(run: Run, { result, error }: Outcome): void {
  for (const open of run.spans.values()) open.end();
  run.spans.clear();
  const u = result?.usage;
  run.span.set({
    'gateway.status': error ? (error.code ?? 'failed') : 'completed',
    'gateway.target': run.current.name,
    'gen_ai.system': run.current.target.provider.name,
    'gen_ai.response.model': run.current.target.model,
    'gen_ai.usage.input_tokens': u && u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens,
    'gen_ai.usage.output_tokens': u?.outputTokens,
    'gateway.cost_usd': run.costUsd ?? undefined,
    'gateway.attempts': run.published.record?.attempts.length,
  });
  if (error) run.span.fail(error);
  run.span.end();
}
