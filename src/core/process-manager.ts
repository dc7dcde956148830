import { randomUUID } from 'node:crypto';
import { type Provider, ProviderError, type ProviderEvent, type ProviderRequest } from '../../providers/types.js';
import type { Config } from '../config.js';
import {
  type CancelReason,
  CancelledError,
  DeadlineError,
  GatewayError,
  NotFoundError,
  QueueFullError,
  ServiceUnavailableError,
  WaitingRunLostError,
  knownError,
} from './errors.js';
import type { EventBus } from './event-bus.js';
import type { Logger } from './logger.js';
import { type Principal, visibleTo } from './ownership.js';
import { type BusEvent, type ProcessRecord, type ProcessStatus, nowSeconds } from './process-types.js';
import type { Readiness } from './readiness.js';
import { RunChannel } from './run-channel.js';
import type { CompletionJob, Outcome, RunEvent, RunIds, RunResult } from './run-types.js';
import type { ListQuery, ProcessStore } from '../stores/jsonl/process-store.js';
import type { SessionStore } from '../stores/jsonl/session-store.js';

export interface ProcessHandle {
  id: string;
  /** The session the run is in (a new one's id is picked at submission). */
  sessionId: string;
  ids: RunIds;
  record(): ProcessRecord;
  /** Resolves once the run has its answer (or waits for client calls), or failed; `error` is set then. */
  done: Promise<Outcome>;
  /**
   * The run's events as they happen, for one reader, ending with the outcome; for a job that does
   * not stream, only the outcome (nothing else is kept for a reader that may never come).
   */
  events: AsyncIterable<RunEvent>;
  cancel(reason: CancelReason): void;
}

interface Run {
  id: string;
  ids: RunIds;
  job: CompletionJob;
  request: ProviderRequest;
  controller: AbortController;
  events: RunChannel;
  finished: boolean;
  cliMs?: number;
  resolve: (outcome: Outcome) => void;
  done: Promise<Outcome>;
  /** Resolves once the run has fully ended (the CLI gone, its slot free), after `done`. */
  ended?: Promise<void>;
  log: Logger;
}

export interface ProcessManagerDeps {
  provider: Provider;
  bus: EventBus;
  store: ProcessStore;
  sessions: SessionStore;
  readiness: Readiness;
  config: Config;
  log: Logger;
}

/** The status a process ends in: completed without an error, else cancelled or failed by its kind. */
function terminalStatus(error?: GatewayError): ProcessStatus {
  if (!error) return 'completed';
  return error instanceof CancelledError ? 'cancelled' : 'failed';
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
  /** Processes whose run waits for client tool results, by session (one per session at most). */
  private readonly waiting = new Map<string, { processId: string; model: string; keyId: string | null; result: RunResult; timer: NodeJS.Timeout }>();
  private isClosing = false;
  private avgRunMs = 5_000;

  constructor(private readonly deps: ProcessManagerDeps) {
    // A waiting run whose process is gone fails now, not when its TTL runs out.
    deps.provider.capabilities.waitingRuns?.onWaitingRunLost((sessionId, why) => this.settleWaiting(sessionId, new WaitingRunLostError(why)));
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
   * Runs a job: checks that the provider is usable, places the job in its session (a new one on a
   * reserved warm process, when one is ready) and queues it. Whatever fails after the reservation
   * gives it back: a refused job never holds a warm process.
   */
  async submit(job: CompletionJob): Promise<ProcessHandle> {
    await this.deps.readiness.assert();
    const request = this.place(job);
    try {
      return await this.enqueue(job, request);
    } catch (err) {
      this.releaseReservation(request);
      throw err;
    }
  }

  /** The provider request of a job: in the session it continues, or in a new one. */
  private place(job: CompletionJob): ProviderRequest {
    const { sessions, config, provider } = this.deps;
    const turn = { prompt: job.prompt, toolResults: job.toolResults, stream: job.stream };
    if (job.sessionId) {
      const cwd = sessions.get(job.sessionId)?.cwd || config.workdir;
      return { ...job.settings, cwd, ...turn, sessionId: job.sessionId, resume: true };
    }
    const settings = { ...job.settings, cwd: config.workdir };
    const reserved = provider.capabilities.sessionReservation?.reserveSession(settings);
    return { ...settings, ...turn, sessionId: reserved ?? randomUUID(), resume: false };
  }

  /** A new session's reserved process goes back to the provider when its job never runs. */
  private releaseReservation(request: ProviderRequest): void {
    if (!request.resume) this.deps.provider.capabilities.sessionReservation?.releaseSession(request.sessionId);
  }

  /** The session whose run waits for these client calls, if one does and `owner` may answer it. */
  waitingSession(toolCallIds: string[], owner: Principal): string | undefined {
    const sid = this.deps.provider.capabilities.waitingRuns?.findWaitingRun(toolCallIds);
    return sid && visibleTo(owner, this.deps.sessions.get(sid)?.key_id ?? null) ? sid : undefined;
  }

  private async enqueue(job: CompletionJob, request: ProviderRequest): Promise<ProcessHandle> {
    const { config, sessions, bus } = this.deps;
    if (this.isClosing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    const sid = request.sessionId;
    if (request.resume && !(await this.resumable(sid, job.owner))) {
      throw new NotFoundError(`session ${sid} does not exist`, 'session_id', 'session_not_found');
    }
    const startsNow =
      this.running.size < config.maxConcurrency && !this.busySessions.has(sid) && !this.pending.some((r) => r.request.sessionId === sid);
    if (!startsNow && this.pending.length >= config.maxQueue) throw new QueueFullError(this.retryAfterSeconds());
    if (!request.resume) sessions.register(sid, request.cwd, nowSeconds(), job.owner.keyId);

    const id = `proc_${randomUUID().replaceAll('-', '')}`;
    let resolve!: (o: Outcome) => void;
    const done = new Promise<Outcome>((r) => (resolve = r));
    const run: Run = {
      id,
      ids: { completionId: randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), model: job.model, processId: id },
      job,
      request,
      controller: new AbortController(),
      events: new RunChannel(),
      finished: false,
      resolve,
      done,
      log: this.deps.log.child({ process_id: id, session_id: sid, key_id: job.owner.keyId }),
    };
    this.runs.set(id, run);
    try {
      bus.publish({
        type: 'PROCESS_QUEUED',
        ts: nowSeconds(),
        process_id: id,
        session_id: sid,
        status: 'queued',
        model: job.model,
        key_id: job.owner.keyId,
        internal: { messages: job.messages },
      });
    } catch (err) {
      // Not recorded, so not run: the client gets the error, the record (as far as it got) ends failed.
      this.runs.delete(id);
      this.finish(run, this.asGatewayError(run.log, err));
      throw (await run.done).error;
    }
    this.pending.push(run);
    this.pump();
    return {
      id,
      sessionId: sid,
      ids: run.ids,
      record: () => this.deps.store.get(id)!,
      done,
      events: run.events,
      cancel: (reason) => void this.cancel(id, reason),
    };
  }

  /** Another key's session is as unknown as one that does not exist; one only the CLI knows has no owner. */
  private async resumable(sid: string, owner: Principal): Promise<boolean> {
    const session = this.deps.sessions.get(sid);
    if (session) return visibleTo(owner, session.key_id);
    return visibleTo(owner, null) && this.deps.provider.hasSession(sid);
  }

  get(id: string): ProcessRecord | undefined {
    return this.deps.store.get(id);
  }

  list(q: ListQuery) {
    return this.deps.store.list(q);
  }

  /**
   * Cancels a queued or running process and resolves with its record once it has stopped (the CLI
   * killed); a finished one is returned as it is, an unknown one as undefined.
   */
  async cancel(id: string, reason: CancelReason): Promise<ProcessRecord | undefined> {
    const record = this.deps.store.get(id);
    if (record?.status === 'requires_action') {
      await this.deps.provider.capabilities.waitingRuns?.cancelWaitingRun(record.session_id);
      this.settleWaiting(record.session_id, new CancelledError(reason));
      return this.deps.store.get(id);
    }
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
    return this.deps.store.get(id);
  }

  /** Stops accepting, lets running processes finish within the grace period, cancels the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.isClosing = true;
    for (const run of [...this.pending]) void this.cancel(run.id, 'shutdown');
    for (const sid of [...this.waiting.keys()]) this.settleWaiting(sid, new CancelledError('shutdown'));
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
    const sid = run.request.sessionId;
    // The session's next turn answers (or abandons) the calls its last process waited for.
    if (this.waiting.has(sid)) this.settleWaiting(sid, run.request.toolResults ? undefined : new CancelledError('abandoned'));
    try {
      this.deps.bus.publish({
        type: 'PROCESS_STARTED',
        ts: nowSeconds(),
        process_id: run.id,
        session_id: sid,
        status: 'running',
        model: run.job.model,
        key_id: run.job.owner.keyId,
      });
    } catch (err) {
      this.runs.delete(run.id);
      this.releaseReservation(run.request);
      this.finish(run, this.asGatewayError(run.log, err));
      return;
    }
    this.running.set(run.id, run);
    this.busySessions.add(sid);
    run.ended = this.execute(run);
  }

  private async execute(run: Run): Promise<void> {
    const { provider, config } = this.deps;
    const started = Date.now();
    const deadline = setTimeout(
      () => run.controller.abort(new DeadlineError(config.requestTimeoutMs)),
      config.requestTimeoutMs,
    );
    try {
      for await (const ev of provider.run(run.request, run.controller.signal)) {
        this.onEvent(run, ev);
      }
      if (!run.finished) throw new ProviderError('bad_output', 'the provider ended without a result', { code: 'bad_cli_output' });
    } catch (err) {
      // Also a tool event that could not be recorded: the run stops with that error.
      if (!run.finished) this.finish(run, this.asGatewayError(run.log, err));
    } finally {
      clearTimeout(deadline);
      this.avgRunMs = this.avgRunMs * 0.8 + (Date.now() - started) * 0.2;
      this.running.delete(run.id);
      this.busySessions.delete(run.request.sessionId);
      this.runs.delete(run.id);
      this.pump();
    }
  }

  private onEvent(run: Run, ev: ProviderEvent): void {
    if (run.finished) return;
    // Deltas are kept for a reader only when the job streams: nobody reads them otherwise.
    if (ev.type !== 'result' && run.request.stream) run.events.push(ev);
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
        this.deps.bus.publish({ ...base, type: 'PROCESS_TOOL_USE', tool_use_id: ev.id, name: ev.name, input: ev.input });
        break;
      case 'tool_result':
        this.deps.bus.publish({
          ...base,
          type: 'PROCESS_TOOL_RESULT',
          tool_use_id: ev.toolUseId,
          content: ev.content,
          is_error: ev.isError,
        });
        break;
      case 'result': {
        const { cliMs, ...result } = ev.result;
        run.cliMs = cliMs;
        this.finish(run, { ...result, ...run.ids });
        break;
      }
      default:
        break;
    }
  }

  private asGatewayError(log: Logger, err: unknown): GatewayError {
    const known = knownError(err);
    if (known) return known;
    log.error({ err }, 'unexpected error in a run');
    return new GatewayError(500, 'api_error', 'internal error while running the completion', { code: 'internal_error' });
  }

  /** The run stopped at client function calls: answered now, it waits for their results. */
  private requireAction(run: Run, result: RunResult): void {
    const sid = result.sessionId;
    const ttl = this.deps.config.toolWaitTtlMs;
    const ids = result.toolCalls?.map((c) => c.id) ?? [];
    try {
      this.deps.bus.publish({
        type: 'PROCESS_REQUIRES_ACTION',
        ts: nowSeconds(),
        process_id: run.id,
        session_id: sid,
        status: 'requires_action',
        model: run.job.model,
        key_id: run.job.owner.keyId,
        result,
        required_action: { type: 'submit_tool_outputs', tool_call_ids: ids, expires_at: nowSeconds() + ttl / 1000 },
      });
    } catch (err) {
      // A wait that could not be recorded is not kept: the parked run is let go, the process fails.
      void this.deps.provider.capabilities.waitingRuns?.cancelWaitingRun(sid);
      this.finish(run, this.asGatewayError(run.log, err));
      return;
    }
    run.finished = true;
    const timer = setTimeout(() => {
      void this.deps.provider.capabilities.waitingRuns?.cancelWaitingRun(sid);
      this.settleWaiting(
        sid,
        new GatewayError(504, 'timeout_error', `no tool results arrived within ${ttl} ms: the waiting run was interrupted`, {
          code: 'tool_results_timeout',
        }),
      );
    }, ttl);
    timer.unref();
    this.waiting.set(sid, { processId: run.id, model: run.job.model, keyId: run.job.owner.keyId, result, timer });
    this.settle(run, { result, cliMs: run.cliMs });
  }

  /** Ends the wait of a session's process: completed by its next turn, or failed/cancelled. */
  private settleWaiting(sessionId: string, error?: GatewayError): void {
    const w = this.waiting.get(sessionId);
    if (!w) return;
    this.waiting.delete(sessionId);
    clearTimeout(w.timer);
    this.complete(this.deps.log, {
      type: 'PROCESS_COMPLETE',
      ts: nowSeconds(),
      process_id: w.processId,
      session_id: sessionId,
      status: terminalStatus(error),
      model: w.model,
      key_id: w.keyId,
      result: w.result,
      ...(error ? { error: error.toJSON() } : {}),
    });
  }

  private finish(run: Run, outcome: RunResult | GatewayError): void {
    if (run.finished) return;
    const error = outcome instanceof GatewayError ? outcome : undefined;
    const result = outcome instanceof GatewayError ? undefined : outcome;
    // The provider stopped at client calls: the process waits for their results.
    if (result?.finishReason === 'tool_calls' && result.toolCalls?.length) {
      this.requireAction(run, result);
      return;
    }
    run.finished = true;
    const status = terminalStatus(error);
    if (error && status === 'failed') run.log.warn({ status: error.status, code: error.code }, error.message);
    const unrecorded = this.complete(run.log, {
      type: 'PROCESS_COMPLETE',
      ts: nowSeconds(),
      process_id: run.id,
      session_id: result?.sessionId ?? run.request.sessionId,
      status,
      model: run.job.model,
      key_id: run.job.owner.keyId,
      ...(error ? { error: error.toJSON(), internal: { claude: error.raw } } : { result }),
    });
    this.settle(run, unrecorded ? { error: unrecorded, cliMs: run.cliMs } : { result, error, cliMs: run.cliMs });
  }

  /** Tells the submitter how the run ended: `done`, and the last of its events. */
  private settle(run: Run, outcome: Outcome): void {
    run.resolve(outcome);
    run.events.push({ type: 'outcome', outcome });
  }

  /**
   * Publishes a process's terminal event. One that cannot be recorded fails the process with that
   * error instead (recorded as far as the disk allows, and told to subscribers): a client never
   * gets a 2xx for an answer that is not on disk. Returns that error, if it came to it.
   */
  private complete(log: Logger, event: Omit<BusEvent, 'seq'>): GatewayError | undefined {
    try {
      this.deps.bus.publish(event);
      return undefined;
    } catch (err) {
      const failure = this.asGatewayError(log, err);
      log.error({ err: failure.cause ?? err, code: failure.code }, `${failure.message}: the process fails with this error`);
      this.deps.bus.publish(
        { ...event, ts: nowSeconds(), status: 'failed', result: undefined, error: failure.toJSON(), internal: undefined },
        { bestEffort: true },
      );
      return failure;
    }
  }
}
