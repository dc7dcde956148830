import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Provider, ProviderEvent, ProviderRequest } from '../providers/types.js';
import type { Config } from './config.js';
import {
  BadCliOutputError,
  type CancelReason,
  CancelledError,
  DeadlineError,
  GatewayError,
  NotFoundError,
  QueueFullError,
  ServiceUnavailableError,
  WaitingRunLostError,
} from './errors.js';
import type { EventBus } from './event-bus.js';
import { toChatCompletion } from './openai/response.js';
import type { ChatCompletion } from './openai/schemas.js';
import { type BusEvent, type ProcessRecord, nowSeconds } from './process-types.js';
import type { ListQuery, ProcessStore } from './stores/process-store.js';
import type { SessionStore } from './stores/session-store.js';

export interface CompletionJob {
  request: ProviderRequest;
  /** The model name as the client asked for it. */
  model: string;
  /** The request's messages, for the session log. */
  messages: unknown[];
}

export interface Outcome {
  record: ProcessRecord;
  error?: GatewayError;
  /** Time spent in the provider (the CLI) for this run, when it got that far. */
  cliMs?: number;
}

/** Receives a run's events as they happen (the streaming route). */
export type RunObserver = (event: ProviderEvent) => void;

export interface ProcessHandle {
  id: string;
  completionId: string;
  created: number;
  record(): ProcessRecord;
  /** Resolves once the process is completed, failed or cancelled; `error` is set unless completed. */
  done: Promise<Outcome>;
  cancel(reason: CancelReason): void;
}

interface Run {
  id: string;
  completionId: string;
  created: number;
  job: CompletionJob;
  controller: AbortController;
  observer?: RunObserver;
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
  /** Processes whose run waits for client tool results, by session (one per session at most). */
  private readonly waiting = new Map<string, { processId: string; model: string; timer: NodeJS.Timeout }>();
  private isClosing = false;
  private avgRunMs = 5_000;

  constructor(private readonly deps: ProcessManagerDeps) {
    // A waiting run whose process is gone fails now, not when its TTL runs out.
    deps.provider.onWaitingRunLost?.((sessionId, why) => this.settleWaiting(sessionId, new WaitingRunLostError(why)));
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

  async submit(job: CompletionJob, observer?: RunObserver): Promise<ProcessHandle> {
    try {
      return await this.enqueue(job, observer);
    } catch (err) {
      this.releaseReservation(job);
      throw err;
    }
  }

  /** A new session's reserved process goes back to the provider when its job never runs. */
  private releaseReservation(job: CompletionJob): void {
    if (!job.request.resume) this.deps.provider.releaseSession?.(job.request.sessionId);
  }

  private async enqueue(job: CompletionJob, observer?: RunObserver): Promise<ProcessHandle> {
    const { config, sessions, provider, bus } = this.deps;
    if (this.isClosing) throw new ServiceUnavailableError('the gateway is shutting down', 'shutting_down');
    const sid = job.request.sessionId;
    if (job.request.resume && !sessions.get(sid) && !(await provider.hasSession(sid))) {
      throw new NotFoundError(`session ${sid} does not exist`, 'session_id', 'session_not_found');
    }
    const startsNow =
      this.running.size < config.maxConcurrency && !this.busySessions.has(sid) && !this.pending.some((r) => r.job.request.sessionId === sid);
    if (!startsNow && this.pending.length >= config.maxQueue) throw new QueueFullError(this.retryAfterSeconds());
    if (!job.request.resume) sessions.register(sid, job.request.cwd, nowSeconds());

    const id = `proc_${randomUUID().replaceAll('-', '')}`;
    let resolve!: (o: Outcome) => void;
    const done = new Promise<Outcome>((r) => (resolve = r));
    const run: Run = {
      id,
      completionId: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
      created: Math.floor(Date.now() / 1000),
      job,
      controller: new AbortController(),
      observer,
      finished: false,
      resolve,
      done,
      log: this.deps.log.child({ process_id: id, session_id: sid }),
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
      completionId: run.completionId,
      created: run.created,
      record: () => this.deps.store.get(id)!,
      done,
      cancel: (reason) => void this.cancel(id, reason),
    };
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
      await this.deps.provider.cancelWaitingRun?.(record.session_id);
      this.settleWaiting(record.session_id, new CancelledError(reason));
      return this.deps.store.get(id);
    }
    const run = this.runs.get(id);
    if (run && !run.finished) {
      const at = this.pending.indexOf(run);
      if (at >= 0) {
        this.pending.splice(at, 1);
        this.releaseReservation(run.job);
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
      if (this.busySessions.has(run.job.request.sessionId)) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.start(run);
    }
  }

  private start(run: Run): void {
    const sid = run.job.request.sessionId;
    // The session's next turn answers (or abandons) the calls its last process waited for.
    if (this.waiting.has(sid)) this.settleWaiting(sid, run.job.request.toolResults ? undefined : new CancelledError('abandoned'));
    try {
      this.deps.bus.publish({
        type: 'PROCESS_STARTED',
        ts: nowSeconds(),
        process_id: run.id,
        session_id: sid,
        status: 'running',
        model: run.job.model,
      });
    } catch (err) {
      this.runs.delete(run.id);
      this.releaseReservation(run.job);
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
      for await (const ev of provider.run(run.job.request, run.controller.signal)) {
        this.onEvent(run, ev);
      }
      if (!run.finished) throw new BadCliOutputError('the provider ended without a result');
    } catch (err) {
      // Also a tool event that could not be recorded: the run stops with that error.
      if (!run.finished) this.finish(run, this.asGatewayError(run.log, err));
    } finally {
      clearTimeout(deadline);
      this.avgRunMs = this.avgRunMs * 0.8 + (Date.now() - started) * 0.2;
      this.running.delete(run.id);
      this.busySessions.delete(run.job.request.sessionId);
      this.runs.delete(run.id);
      this.pump();
    }
  }

  private onEvent(run: Run, ev: ProviderEvent): void {
    if (run.finished) return;
    run.observer?.(ev);
    const base = {
      ts: nowSeconds(),
      process_id: run.id,
      session_id: run.job.request.sessionId,
      status: 'running' as const,
      model: run.job.model,
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
      case 'result':
        run.cliMs = ev.result.cliMs;
        this.finish(
          run,
          toChatCompletion(
            { id: run.completionId, created: run.created, model: run.job.model, processId: run.id },
            ev.result,
          ),
        );
        break;
      default:
        break;
    }
  }

  private asGatewayError(log: Logger, err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    log.error({ err }, 'unexpected error in a run');
    return new GatewayError(500, 'api_error', 'internal error while running the completion', { code: 'internal_error' });
  }

  /** The run stopped at client function calls: answered now, it waits for their results. */
  private requireAction(run: Run, completion: ChatCompletion): void {
    const sid = completion.session_id;
    const ttl = this.deps.config.toolWaitTtlMs;
    const ids = completion.choices[0]!.message.tool_calls?.map((c) => c.id) ?? [];
    try {
      this.deps.bus.publish({
        type: 'PROCESS_REQUIRES_ACTION',
        ts: nowSeconds(),
        process_id: run.id,
        session_id: sid,
        status: 'requires_action',
        model: run.job.model,
        result: completion,
        required_action: { type: 'submit_tool_outputs', tool_call_ids: ids, expires_at: nowSeconds() + ttl / 1000 },
      });
    } catch (err) {
      // A wait that could not be recorded is not kept: the parked run is let go, the process fails.
      void this.deps.provider.cancelWaitingRun?.(sid);
      this.finish(run, this.asGatewayError(run.log, err));
      return;
    }
    run.finished = true;
    const timer = setTimeout(() => {
      void this.deps.provider.cancelWaitingRun?.(sid);
      this.settleWaiting(
        sid,
        new GatewayError(504, 'timeout_error', `no tool results arrived within ${ttl} ms: the waiting run was interrupted`, {
          code: 'tool_results_timeout',
        }),
      );
    }, ttl);
    timer.unref();
    this.waiting.set(sid, { processId: run.id, model: run.job.model, timer });
    run.resolve({ record: this.deps.store.get(run.id)!, cliMs: run.cliMs });
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
      status: !error ? 'completed' : error instanceof CancelledError ? 'cancelled' : 'failed',
      model: w.model,
      result: this.deps.store.get(w.processId)?.result ?? undefined,
      ...(error ? { error: error.toJSON() } : {}),
    });
  }

  private finish(run: Run, outcome: ChatCompletion | GatewayError): void {
    if (run.finished) return;
    if (!(outcome instanceof GatewayError) && outcome.choices[0]!.finish_reason === 'tool_calls' && outcome.choices[0]!.message.tool_calls?.length) {
      this.requireAction(run, outcome);
      return;
    }
    run.finished = true;
    const failed = outcome instanceof GatewayError;
    const status = !failed ? 'completed' : outcome instanceof CancelledError ? 'cancelled' : 'failed';
    if (failed && status === 'failed') run.log.warn({ status: outcome.status, code: outcome.code }, outcome.message);
    const unrecorded = this.complete(run.log, {
      type: 'PROCESS_COMPLETE',
      ts: nowSeconds(),
      process_id: run.id,
      session_id: failed ? run.job.request.sessionId : outcome.session_id,
      status,
      model: run.job.model,
      ...(failed ? { error: outcome.toJSON(), internal: { claude: outcome.raw } } : { result: outcome }),
    });
    const error = unrecorded ?? (failed ? outcome : undefined);
    run.resolve({ record: this.deps.store.get(run.id)!, error, cliMs: run.cliMs });
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
