// Processes waiting for client tool results (src/core/tool-waits.ts): every way a wait ends, with
// fake timers and the bus and provider played by the test.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/core/ownership.js';
import type { NewEventOf } from '../../src/core/process-types.js';
import type { RunResult } from '../../src/core/run-types.js';
import { type ToolWait, ToolWaits } from '../../src/core/tool-waits.js';

const TTL_MS = 60_000;
const NOW_S = 1_000;
const ALICE: Principal = { keyId: 'alice', admin: false };
const BOB: Principal = { keyId: 'bob', admin: false };
const ADMIN: Principal = { keyId: 'root', admin: true };

function wait(sessionId: string, callIds = [`call_${sessionId}`]): ToolWait {
  const processId = `proc_${sessionId}`;
  const result: RunResult = {
    completionId: '0'.repeat(32),
    created: NOW_S,
    model: 'sonnet',
    processId,
    sessionId,
    text: '',
    toolCalls: callIds.map((id) => ({ id, name: 'get_weather', arguments: '{}' })),
    finishReason: 'tool_calls',
    usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 },
    raw: {},
  };
  return { processId, sessionId, model: 'sonnet', keyId: 'alice', result };
}

function harness() {
  const published: NewEventOf<'PROCESS_REQUIRES_ACTION'>[] = [];
  const completed: NewEventOf<'PROCESS_COMPLETE'>[] = [];
  const interrupts: string[] = [];
  /** Interrupts in progress, when held: call one to let it finish. */
  const pending: (() => void)[] = [];
  const faults = {
    /** When set, publishing the wait fails with it (the disk is full). */
    publishError: undefined as Error | undefined,
    /** Interrupts finish at once unless held. */
    holdInterrupts: false,
  };
  const waits = new ToolWaits({
    ttlMs: TTL_MS,
    publish: async (e) => {
      if (faults.publishError) throw faults.publishError;
      published.push(e);
    },
    complete: async (e) => {
      completed.push(e);
    },
    interrupt: (sid) => {
      interrupts.push(sid);
      return faults.holdInterrupts ? new Promise<void>((r) => pending.push(r)) : Promise.resolve();
    },
  });
  /** The process ends published so far, as status and error code. */
  const ending = () => completed.map((e) => ({ process_id: e.process_id, status: e.status, code: e.error?.code ?? null }));
  return { waits, published, completed, interrupts, pending, faults, ending };
}

beforeEach(() => {
  vi.useFakeTimers({ now: NOW_S * 1000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('waiting', () => {
  it('publishes requires_action with the call ids and when the wait expires', async () => {
    const h = harness();
    const w = wait('A', ['call_1', 'call_2']);
    await h.waits.park(w);
    expect(h.published).toEqual([
      {
        type: 'PROCESS_REQUIRES_ACTION',
        ts: NOW_S,
        process_id: 'proc_A',
        session_id: 'A',
        status: 'requires_action',
        model: 'sonnet',
        key_id: 'alice',
        result: w.result,
        required_action: { type: 'submit_tool_outputs', tool_call_ids: ['call_1', 'call_2'], expires_at: NOW_S + TTL_MS / 1000 },
      },
    ]);
    expect(h.completed).toEqual([]);
  });

  it('is found by any of its call ids, by those who may see its process', async () => {
    const h = harness();
    await h.waits.park(wait('A', ['call_1', 'call_2']));
    await h.waits.park({ ...wait('B'), keyId: 'bob' });
    expect(h.waits.find(['call_x', 'call_2'], ALICE)).toBe('A');
    expect(h.waits.find(['call_x'], ALICE)).toBeUndefined();
    expect(h.waits.find(['call_1'], BOB)).toBeUndefined();
    expect(h.waits.find(['call_1'], ADMIN)).toBe('A');
    expect(h.waits.find(['call_B'], BOB)).toBe('B');
  });

  it('counts at once, before it is recorded: what ends it is published after it', async () => {
    const h = harness();
    const parked = h.waits.park(wait('A'));
    expect(h.waits.find(['call_A'], ALICE)).toBe('A');
    h.waits.nextTurn('A', true);
    await parked;
    expect(h.published.map((e) => e.process_id)).toEqual(['proc_A']);
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'completed', code: null }]);
  });

  it('is not kept when it cannot be recorded: its run is interrupted and the error thrown', async () => {
    const h = harness();
    h.faults.publishError = new Error('disk full');
    await expect(h.waits.park(wait('A'))).rejects.toThrow('disk full');
    expect(h.interrupts).toEqual(['A']);
    expect(h.waits.find(['call_A'], ADMIN)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(TTL_MS * 2);
    expect(h.completed).toEqual([]);
  });
});

describe('how a wait ends', () => {
  it('answered: the next turn brings the results, the process completes with its answer', async () => {
    const h = harness();
    const w = wait('A');
    await h.waits.park(w);
    h.waits.nextTurn('A', true);
    expect(h.completed).toEqual([
      { type: 'PROCESS_COMPLETE', ts: NOW_S, process_id: 'proc_A', session_id: 'A', status: 'completed', model: 'sonnet', key_id: 'alice', result: w.result },
    ]);
    expect(h.interrupts).toEqual([]);
    expect(h.waits.find(['call_A'], ADMIN)).toBeUndefined();
  });

  it('abandoned: the next turn brings a new message; the run is interrupted, and the turn waits for that', async () => {
    const h = harness();
    h.faults.holdInterrupts = true;
    await h.waits.park(wait('A'));
    h.waits.nextTurn('A', false);
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'cancelled', code: 'tool_calls_abandoned' }]);
    expect(h.completed[0]!.result).toBeDefined(); // the answer it gave is kept
    expect(h.interrupts).toEqual(['A']);
    let ready = false;
    void h.waits.interrupted('A').then(() => (ready = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(ready).toBe(false);
    h.pending[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(ready).toBe(true);
    await h.waits.interrupted('A'); // nothing under way any more: at once
  });

  it('a session with nothing waiting starts its next turn at once', async () => {
    const h = harness();
    h.waits.nextTurn('A', false);
    h.waits.nextTurn('A', true);
    await h.waits.interrupted('A');
    expect(h.completed).toEqual([]);
    expect(h.interrupts).toEqual([]);
  });

  it('expired: no results within TOOL_WAIT_TTL_MS; the run is interrupted', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    await vi.advanceTimersByTimeAsync(TTL_MS - 1);
    expect(h.completed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'failed', code: 'tool_results_timeout' }]);
    expect(h.completed[0]!.error).toMatchObject({ type: 'timeout_error' });
    expect(h.interrupts).toEqual(['A']);
  });

  it('evicted: the provider let the run go to keep within its bounds', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    h.waits.lost('A', 'evicted');
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'failed', code: 'tool_wait_evicted' }]);
    expect(h.interrupts).toEqual([]);
  });

  it('lost: the process of the run exited', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    h.waits.lost('A', 'exited');
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'failed', code: 'cli_exited' }]);
    expect(h.interrupts).toEqual([]);
  });

  it('cancelled: DELETE ends it and resolves once the run is interrupted; another process is not its to cancel', async () => {
    const h = harness();
    h.faults.holdInterrupts = true;
    await h.waits.park(wait('A'));
    let cancelled: boolean | undefined;
    void h.waits.cancel('proc_A', 'deleted').then((c) => (cancelled = c));
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'cancelled', code: 'cancelled' }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(cancelled).toBeUndefined();
    h.pending[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(cancelled).toBe(true);
    expect(await h.waits.cancel('proc_A', 'deleted')).toBe(false);
    expect(await h.waits.cancel('proc_other', 'deleted')).toBe(false);
  });

  it('cancelled: shutdown ends every wait, without interrupting (the provider closes its processes)', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    await h.waits.park(wait('B'));
    await h.waits.cancelAll('shutdown');
    expect(h.ending()).toEqual([
      { process_id: 'proc_A', status: 'cancelled', code: 'shutting_down' },
      { process_id: 'proc_B', status: 'cancelled', code: 'shutting_down' },
    ]);
    expect(h.interrupts).toEqual([]);
  });

  it('ends once: later transitions and the TTL find nothing', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    h.waits.nextTurn('A', true);
    h.waits.lost('A', 'exited');
    h.waits.nextTurn('A', false);
    await h.waits.cancelAll('shutdown');
    await vi.advanceTimersByTimeAsync(TTL_MS * 2);
    expect(h.ending()).toEqual([{ process_id: 'proc_A', status: 'completed', code: null }]);
    expect(h.interrupts).toEqual([]);
  });

  it('one session at a time: the others wait on', async () => {
    const h = harness();
    await h.waits.park(wait('A'));
    await vi.advanceTimersByTimeAsync(TTL_MS / 2);
    await h.waits.park(wait('B'));
    h.waits.nextTurn('A', true);
    await vi.advanceTimersByTimeAsync(TTL_MS / 2);
    expect(h.waits.find(['call_B'], ALICE)).toBe('B');
    await vi.advanceTimersByTimeAsync(TTL_MS / 2);
    expect(h.ending()).toEqual([
      { process_id: 'proc_A', status: 'completed', code: null },
      { process_id: 'proc_B', status: 'failed', code: 'tool_results_timeout' },
    ]);
  });
});
