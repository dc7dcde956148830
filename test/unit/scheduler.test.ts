// Scheduling in the process manager (src/process-manager.ts): MAX_CONCURRENCY, MAX_QUEUE, one turn
// at a time per session in arrival order, cancel. Driven with an in-test provider whose runs end
// when the test says, and the real event bus and stores in a temporary directory: no CLI.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Router } from '../../src/core/routing.js';
import { ProviderRegistry } from '../../providers/registry.js';
import type { ChatRequest, Provider, ProviderCapabilities, ProviderEvent, RunSession } from '../../providers/types.js';
import { loadConfig } from '../../src/config.js';
import { EventBus } from '../../src/core/event-bus.js';
import { createLogger } from '../../src/http/logger.js';
import { ANONYMOUS } from '../../src/core/ownership.js';
import { type ProcessHandle, ProcessManager } from '../../src/core/process-manager.js';
import { Readiness } from '../../src/core/readiness.js';
import type { CompletionJob } from '../../src/core/run-types.js';
import { recordEvents } from '../../src/core/recorders.js';
import { openJsonlStorage } from '../../src/stores/jsonl/storage.js';

/** A run of the provider, held open until the test ends it. */
interface HeldRun {
  /** The prompt the run was prepared with. */
  prompt: string;
  session: RunSession;
  signal: AbortSignal;
  /** Ends the run with an answer. */
  finish(): void;
}

/** Every run waits for the test to finish it; it counts what runs at once. */
class HeldProvider implements Provider<string> {
  readonly name = 'held';
  readonly capabilities: ProviderCapabilities = {};
  readonly runs: HeldRun[] = [];
  active = 0;
  maxActive = 0;

  models() {
    return [];
  }

  resolveModel(requested: string) {
    return requested;
  }

  async hasSession() {
    return false;
  }

  async check() {
    return { ok: true as const };
  }

  /** A run is named by its prompt: the text of the request's last message. */
  prepare(request: ChatRequest): string {
    const last = request.messages.at(-1)!;
    return last.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
  }

  async *run(prompt: string, session: RunSession, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    let finish!: () => void;
    let abort!: (reason: unknown) => void;
    const ended = new Promise<void>((resolve, reject) => {
      finish = resolve;
      abort = reject;
    });
    const onAbort = () => abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.runs.push({ prompt, session, signal, finish });
    this.maxActive = Math.max(this.maxActive, ++this.active);
    try {
      await ended;
      const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 };
      yield { type: 'result', result: { text: `answer to ${prompt}`, sessionId: session.sessionId, finishReason: 'stop', usage, raw: {} } };
    } finally {
      this.active--;
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** The prompts of the runs started so far, in start order. */
  get started(): string[] {
    return this.runs.map((r) => r.prompt);
  }

  /** Ends the run of this prompt. */
  finish(prompt: string): void {
    const run = this.runs.find((r) => r.prompt === prompt);
    if (!run) throw new Error(`no run of ${prompt} has started (started: ${this.started.join(', ')})`);
    run.finish();
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function gateway(env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'scheduler-'));
  dirs.push(dir);
  const config = loadConfig({ DATA_DIR: dir, CLAUDE_WORKDIR: path.join(dir, 'workspace'), LOG_LEVEL: 'silent', ...env });
  const log = createLogger('silent');
  mkdirSync(config.logDir);
  const storage = openJsonlStorage(config, log);
  const bus = new EventBus(1_000);
  recordEvents(bus, storage);
  const provider = new HeldProvider();
  const manager = new ProcessManager({
    router: new Router(new ProviderRegistry([provider])),
    bus,
    sessions: storage.sessions,
    conversations: storage.conversations,
    readiness: new Readiness(),
    config,
    log,
  });
  return { manager, provider, store: storage.records };
}

const job = (prompt: string, sessionId?: string): CompletionJob => ({
  model: 'sonnet',
  messages: [{ role: 'user', content: prompt }],
  request: {
    model: 'sonnet',
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    tools: [],
    permissions: { allow: [], deny: [] },
    toolChoice: 'auto',
    parallelToolCalls: true,
    sampling: {},
    session: sessionId ? { kind: 'continue', sessionId } : { kind: 'new' },
    stream: false,
  },
  owner: ANONYMOUS,
});

/** Lets the manager's promise chains run until `pred` holds. */
async function until(pred: () => boolean, what = 'a condition'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

const status = (h: ProcessHandle) => h.record().status;

describe('MAX_CONCURRENCY', () => {
  it('runs that many at once; the others wait queued and start as runs end, first come first served', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '2' });
    const handles: ProcessHandle[] = [];
    for (const p of ['a', 'b', 'c', 'd']) handles.push(await manager.submit(job(p)));
    await until(() => provider.runs.length === 2);
    expect(provider.started).toEqual(['a', 'b']);
    expect(handles.map(status)).toEqual(['running', 'running', 'queued', 'queued']);
    expect([manager.activeCount, manager.queuedCount]).toEqual([2, 2]);

    provider.finish('b');
    await until(() => provider.runs.length === 3, 'c to start');
    expect(provider.started).toEqual(['a', 'b', 'c']);
    expect(handles.map(status)).toEqual(['running', 'completed', 'running', 'queued']);

    provider.finish('a');
    provider.finish('c');
    await until(() => provider.runs.length === 4, 'd to start');
    provider.finish('d');
    const outcomes = await Promise.all(handles.map((h) => h.done));
    expect(outcomes.map((o) => o.result?.text)).toEqual(['answer to a', 'answer to b', 'answer to c', 'answer to d']);
    expect(provider.maxActive).toBe(2);
    await until(() => manager.activeCount === 0, 'the slots to be free'); // a run's slot frees after its `done`
    expect([manager.activeCount, manager.queuedCount]).toEqual([0, 0]);
  });
});

describe('MAX_QUEUE', () => {
  it('refuses a job beyond it with 429 queue_full and a Retry-After, recording nothing', async () => {
    const { manager, provider, store } = gateway({ MAX_CONCURRENCY: '1', MAX_QUEUE: '2' });
    for (const p of ['a', 'b', 'c']) await manager.submit(job(p));
    await until(() => provider.runs.length === 1);
    const err = await manager.submit(job('d')).then(
      () => undefined,
      (e: unknown) => e as { status: number; code: string; headers: Record<string, string> },
    );
    expect(err).toMatchObject({ status: 429, code: 'queue_full' });
    const retryAfter = Number(err!.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect((await store.list({ limit: 100, viewer: ANONYMOUS })).data).toHaveLength(3);

    // a place in the queue frees up as soon as a queued job starts
    provider.finish('a');
    await until(() => provider.runs.length === 2, 'b to start');
    await expect(manager.submit(job('d'))).resolves.toBeDefined();
  });

  it('never refuses a job that can start at once, however full the queue', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '2', MAX_QUEUE: '1' });
    const first = await manager.submit(job('s1'));
    await until(() => provider.runs.length === 1, 's1 to start'); // once its start is recorded
    provider.finish('s1');
    const sid = (await first.done).result!.sessionId;
    await manager.submit(job('s2', sid));
    await manager.submit(job('s3', sid)); // waits for s2: the queue is full
    await until(() => provider.runs.length === 2);
    expect(manager.queuedCount).toBe(1);
    const other = await manager.submit(job('t1'));
    await until(() => provider.started.includes('t1'), 't1 to start');
    expect(status(other)).toBe('running');
  });

  it('gives back the warm process reserved for a job it refuses', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '1', MAX_QUEUE: '0' });
    const released: string[] = [];
    const reserved = randomUUID();
    provider.capabilities.sessionReservation = { reserveSession: () => reserved, releaseSession: (sid) => released.push(sid) };
    await manager.submit(job('a'));
    await expect(manager.submit(job('b'))).rejects.toMatchObject({ code: 'queue_full' });
    expect(released).toEqual([reserved]);
  });
});

describe('sessions', () => {
  it('runs the turns of one session one at a time, in arrival order, while other sessions run alongside', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '4' });
    const first = await manager.submit(job('s0'));
    await until(() => provider.runs.length === 1);
    provider.finish('s0');
    const sid = (await first.done).result!.sessionId;

    const turns = [];
    for (const p of ['s1', 's2', 's3']) turns.push(await manager.submit(job(p, sid)));
    const other = await manager.submit(job('u1')); // arrives last, starts at once
    await until(() => provider.runs.length === 3);
    expect(provider.started).toEqual(['s0', 's1', 'u1']);
    expect(turns.map(status)).toEqual(['running', 'queued', 'queued']);
    expect(status(other)).toBe('running');
    expect(provider.active).toBe(2);

    provider.finish('u1'); // another session ending starts nothing of this one
    await until(() => manager.activeCount === 1, 'u1 to end');
    expect(provider.started).not.toContain('s2');

    provider.finish('s1');
    await until(() => provider.started.includes('s2'), 's2 to start');
    expect(turns.map(status)).toEqual(['completed', 'running', 'queued']);
    provider.finish('s2');
    await until(() => provider.started.includes('s3'), 's3 to start');
    provider.finish('s3');
    await Promise.all(turns.map((t) => t.done));
    expect(provider.started.filter((p) => p.startsWith('s'))).toEqual(['s0', 's1', 's2', 's3']);
    expect(provider.runs.filter((r) => r.session.sessionId === sid).map((r) => r.session.resume)).toEqual([false, true, true, true]);
  });
});

describe('cancel', () => {
  it('cancels a queued run at once: never started, and the runs behind it move up', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '1' });
    const a = await manager.submit(job('a'));
    const b = await manager.submit(job('b'));
    const c = await manager.submit(job('c'));
    await until(() => provider.runs.length === 1);

    const record = await manager.cancel(b.id, 'deleted');
    expect(record?.status).toBe('cancelled');
    expect((await b.done).error).toMatchObject({ code: 'cancelled' });
    expect(manager.queuedCount).toBe(1);

    provider.finish('a');
    await until(() => provider.runs.length === 2, 'c to start');
    provider.finish('c');
    await Promise.all([a.done, c.done]);
    expect(provider.started).toEqual(['a', 'c']);
    expect(status(c)).toBe('completed');
  });

  it('gives back the warm process reserved for a queued run that is cancelled', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '1' });
    const released: string[] = [];
    const ids = [randomUUID(), randomUUID()];
    provider.capabilities.sessionReservation = { reserveSession: () => ids.shift(), releaseSession: (sid) => released.push(sid) };
    await manager.submit(job('a'));
    const b = await manager.submit(job('b'));
    await manager.cancel(b.id, 'deleted');
    expect(released).toEqual([b.sessionId]);
  });

  it('cancels a running run through its signal, and its slot goes to the next', async () => {
    const { manager, provider } = gateway({ MAX_CONCURRENCY: '1' });
    const a = await manager.submit(job('a'));
    await manager.submit(job('b'));
    await until(() => provider.runs.length === 1);

    const record = await manager.cancel(a.id, 'deleted');
    expect(provider.runs[0]!.signal.aborted).toBe(true);
    expect(record?.status).toBe('cancelled');
    await until(() => provider.started.includes('b'), 'b to start');
    expect(manager.activeCount).toBe(1);
  });

  it('fails a run past REQUEST_TIMEOUT_MS with deadline_exceeded', async () => {
    const { manager, provider } = gateway({ REQUEST_TIMEOUT_MS: '30' });
    const a = await manager.submit(job('a'));
    const outcome = await a.done;
    expect(outcome.error).toMatchObject({ code: 'deadline_exceeded' });
    expect(provider.runs[0]!.signal.aborted).toBe(true);
    expect(status(a)).toBe('failed');
  });
});
