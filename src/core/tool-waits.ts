import type { WaitingRunLoss } from '../../providers/types.js';
import { type CancelReason, CancelledError, GatewayError, WaitingRunLostError } from './errors.js';
import { type Principal, visibleTo } from './ownership.js';
import { type NewEventOf, nowSeconds, terminalStatus } from './process-types.js';
import type { RunResult } from './run-types.js';

/** A process whose run stopped at client function calls; the run waits, in the provider, for their results. */
export interface ToolWait {
  processId: string;
  sessionId: string;
  model: string;
  keyId: string | null;
  /** The answer the process gave: the calls it waits for. */
  result: RunResult;
}

export interface ToolWaitsDeps {
  /** How long a run waits for its results before it is interrupted (TOOL_WAIT_TTL_MS). */
  ttlMs: number;
  /** Publishes the wait (numbered in call order); rejects when it could not be recorded. */
  publish(event: NewEventOf<'PROCESS_REQUIRES_ACTION'>): Promise<unknown>;
  /** Publishes the process's end (numbered in call order): recorded as far as the disk allows; never rejects. */
  complete(event: NewEventOf<'PROCESS_COMPLETE'>): Promise<unknown>;
  /** Interrupts the run waiting in the session, in the provider (its process stays for the session); never rejects. */
  interrupt(sessionId: string): Promise<void>;
}

interface Wait extends ToolWait {
  toolCallIds: string[];
  timer: NodeJS.Timeout;
}

/**
 * Processes waiting for client tool results (`requires_action`), at most one per session: the one
 * place that decides how a wait ends. waiting → answered (the session's next turn brings the
 * results) | abandoned (it brings a new message instead) | expired (TOOL_WAIT_TTL_MS) | evicted or
 * lost (the provider let the run go, or its process died) | cancelled (DELETE, shutdown). Every end
 * completes the process; the provider only holds the parked run and interrupts it when told.
 */
export class ToolWaits {
  /** By session. */
  private readonly waits = new Map<string, Wait>();
  /** Interrupts under way, by session: the session's next turn starts once its run has stopped. */
  private readonly interrupts = new Map<string, Promise<void>>();

  constructor(private readonly deps: ToolWaitsDeps) {}

  /**
   * The process waits from now on for the results of the calls in its answer; resolves once that is
   * recorded. A wait that cannot be recorded is not kept: its run is interrupted, and the error thrown.
   */
  async park(wait: ToolWait): Promise<void> {
    const { ttlMs } = this.deps;
    const toolCallIds = wait.result.toolCalls?.map((c) => c.id) ?? [];
    const timer = setTimeout(() => this.expire(wait.sessionId), ttlMs);
    timer.unref();
    // Kept at once: whatever ends it is published after this event, so recorded after it too.
    const entry = { ...wait, toolCallIds, timer };
    this.waits.set(wait.sessionId, entry);
    try {
      await this.deps.publish({
        type: 'PROCESS_REQUIRES_ACTION',
        ts: nowSeconds(),
        process_id: wait.processId,
        session_id: wait.sessionId,
        status: 'requires_action',
        model: wait.model,
        key_id: wait.keyId,
        result: wait.result,
        required_action: { type: 'submit_tool_outputs', tool_call_ids: toolCallIds, expires_at: nowSeconds() + ttlMs / 1000 },
      });
    } catch (err) {
      if (this.waits.get(wait.sessionId) === entry) {
        this.waits.delete(wait.sessionId);
        clearTimeout(timer);
        void this.interrupt(wait.sessionId);
      }
      throw err;
    }
  }

  /** The session whose process waits for any of these calls, when `owner` may see that process. */
  find(toolCallIds: readonly string[], owner: Principal): string | undefined {
    for (const w of this.waits.values()) {
      if (toolCallIds.some((id) => w.toolCallIds.includes(id))) return visibleTo(owner, w.keyId) ? w.sessionId : undefined;
    }
    return undefined;
  }

  /**
   * The session's next turn starts: with tool results it answers the waiting process; without, the
   * calls are abandoned and the run interrupted (the CLI must not go on to the model without them).
   */
  nextTurn(sessionId: string, withResults: boolean): void {
    if (!this.waits.has(sessionId)) return;
    if (withResults) {
      void this.end(sessionId);
      return;
    }
    void this.end(sessionId, new CancelledError('abandoned'));
    void this.interrupt(sessionId);
  }

  /** Resolves once the session's run, if one is being interrupted, has stopped: then its next turn may start. */
  interrupted(sessionId: string): Promise<void> {
    return this.interrupts.get(sessionId) ?? Promise.resolve();
  }

  /** The provider let the waiting run go: it evicted it to keep within its bounds, or its process exited. */
  lost(sessionId: string, why: WaitingRunLoss): void {
    void this.end(sessionId, new WaitingRunLostError(why));
  }

  /**
   * Cancels a waiting process (DELETE): resolves once that is recorded and its run interrupted, with
   * false when the process does not wait.
   */
  async cancel(processId: string, reason: CancelReason): Promise<boolean> {
    const wait = [...this.waits.values()].find((w) => w.processId === processId);
    if (!wait) return false;
    await Promise.all([this.end(wait.sessionId, new CancelledError(reason)), this.interrupt(wait.sessionId)]);
    return true;
  }

  /** Cancels every wait (shutdown), recorded when it resolves; the provider closes their processes. */
  async cancelAll(reason: CancelReason): Promise<void> {
    await Promise.all([...this.waits.keys()].map((sessionId) => this.end(sessionId, new CancelledError(reason))));
  }

  private expire(sessionId: string): void {
    const { ttlMs } = this.deps;
    void this.end(
      sessionId,
      new GatewayError(504, 'timeout_error', `no tool results arrived within ${ttlMs} ms: the waiting run was interrupted`, {
        code: 'tool_results_timeout',
      }),
    );
    void this.interrupt(sessionId);
  }

  /** Ends the session's wait: its process completes (answered) or ends with `error`; resolves once recorded. */
  private async end(sessionId: string, error?: GatewayError): Promise<void> {
    const w = this.waits.get(sessionId);
    if (!w) return;
    this.waits.delete(sessionId);
    clearTimeout(w.timer);
    await this.deps.complete({
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

  private interrupt(sessionId: string): Promise<void> {
    const done = this.deps.interrupt(sessionId).finally(() => {
      if (this.interrupts.get(sessionId) === done) this.interrupts.delete(sessionId);
    });
    this.interrupts.set(sessionId, done);
    return done;
  }
}
