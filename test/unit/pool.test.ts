// The warm pool and hot sessions (providers/claude-cli/pool.ts), driven with fake long-lived
// processes and fake timers: no CLI is started.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveCliProcess } from '../../providers/claude-cli/live-process.js';
import { type PoolOptions, ProcessPool } from '../../providers/claude-cli/pool.js';
import type { ToolResult } from '../../providers/claude-cli/render.js';
import type { CliRequest, SpawnProfile } from '../../providers/claude-cli/request.js';
import type { CliExit } from '../../providers/claude-cli/spawn.js';
import type { WaitingRunLoss } from '../../providers/types.js';

/** What the pool uses of a LiveCliProcess, and handles for the test to play the CLI's part. */
class FakeCli implements Pick<LiveCliProcess, 'sessionId' | 'turns' | 'exited' | 'initialized' | 'waitingFor' | 'isAlive' | 'close' | 'cancelWaiting' | 'rssMb'> {
  readonly sessionId: string;
  turns = 0;
  waitingFor: string[] = [];
  /** Resident memory it reports, and how often it was asked. */
  rss = 200;
  rssReads = 0;
  /** close() was called (stdin ended). */
  closed = false;
  /** Waiting runs interrupted. */
  interrupts = 0;
  readonly exited: Promise<CliExit>;
  readonly initialized: Promise<boolean>;
  private alive = true;
  private exit!: (e: CliExit) => void;
  private init!: (ok: boolean) => void;

  constructor(
    readonly profile: SpawnProfile,
    readonly session: { id: string; resume: boolean },
  ) {
    this.sessionId = session.id;
    this.exited = new Promise((r) => (this.exit = r));
    this.initialized = new Promise((r) => (this.init = r));
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** The CLI answers the initialize handshake (or fails it). */
  answerInitialize(ok = true): void {
    this.init(ok);
  }

  /** The CLI exits on its own (crash, kill). */
  die(exitCode = 1): void {
    if (!this.alive) return;
    this.alive = false;
    this.init(false);
    this.exit({ exitCode, stderr: '' });
  }

  async close(): Promise<CliExit> {
    this.closed = true;
    this.die(0);
    return this.exited;
  }

  async cancelWaiting(): Promise<void> {
    this.interrupts++;
    this.waitingFor = [];
  }

  rssMb(): number {
    this.rssReads++;
    return this.rss;
  }
}

const DEFAULT: SpawnProfile = {
  model: 'sonnet',
  toolPolicy: { tools: [], allowed: [], disallowed: [] },
  cwd: '/work',
  clientTools: [],
  parallelToolCalls: true,
};
const OTHER: SpawnProfile = { ...DEFAULT, systemPrompt: 'be brief' };

const request = (sessionId: string, over: Partial<CliRequest> = {}): CliRequest => ({
  ...DEFAULT,
  prompt: 'hi',
  images: [],
  sessionId,
  resume: true,
  stream: false,
  ...over,
});

/** Lets the pool's promise chains (spawn → probe → warm, close → exit) run. */
const settle = () => vi.advanceTimersByTimeAsync(0);
/** Time passes (and timers fire). */
const later = (ms: number) => vi.advanceTimersByTimeAsync(ms);

interface Harness {
  pool: ProcessPool;
  spawned: FakeCli[];
  lost: [string, WaitingRunLoss][];
  /** Spawns held back (with `holdSpawns`): call one to let it complete. */
  held: (() => void)[];
}

function harness(opts: Partial<Omit<PoolOptions, 'spawn'>> & { autoInit?: boolean; holdSpawns?: boolean } = {}): Harness {
  const { autoInit = true, holdSpawns = false, ...poolOpts } = opts;
  const h: Harness = { spawned: [], lost: [], held: [], pool: undefined! };
  h.pool = new ProcessPool({
    size: 1,
    maxProcesses: 8,
    maxParked: 4,
    hotTtlMs: 60_000,
    maxTurns: 100,
    maxRssMb: 1024,
    defaultProfile: DEFAULT,
    async spawn(profile, session) {
      if (holdSpawns) await new Promise<void>((r) => h.held.push(r));
      const proc = new FakeCli(profile, session);
      h.spawned.push(proc);
      if (autoInit) proc.answerInitialize();
      return proc as unknown as LiveCliProcess;
    },
    onError: (err) => {
      throw err;
    },
    onRunLost: (sid, why) => h.lost.push([sid, why]),
    ...poolOpts,
  });
  return h;
}

/** One turn of a session: its process taken, used once, given back. */
async function turn(pool: ProcessPool, req: CliRequest, waitFor: string[] = []): Promise<FakeCli> {
  const entry = await pool.checkout(req);
  const proc = entry.proc as unknown as FakeCli;
  proc.turns++;
  proc.waitingFor = waitFor;
  pool.checkin(entry);
  return proc;
}

/** A turn that stops at client calls: the run then waits in its process for their results. */
const park = (pool: ProcessPool, sessionId: string, callId = `call_${sessionId}`) =>
  turn(pool, request(sessionId, { resume: false }), [callId]);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('warm-up', () => {
  it('starts POOL_SIZE processes of the default profile, each a fresh session, warm once they answer initialize', async () => {
    const { pool, spawned } = harness({ size: 2, autoInit: false });
    pool.start();
    pool.start(); // a second start does not overshoot
    await settle();
    expect(spawned).toHaveLength(2);
    expect(spawned.map((p) => p.session.resume)).toEqual([false, false]);
    expect(new Set(spawned.map((p) => p.sessionId)).size).toBe(2);
    expect(spawned.every((p) => p.profile === DEFAULT)).toBe(true);
    expect(pool.stats()).toMatchObject({ probing: 2, warm: 0, total: 2 });
    expect(pool.verified).toBe(false);

    for (const p of spawned) p.answerInitialize();
    await settle();
    expect(pool.stats()).toMatchObject({ probing: 0, warm: 2, total: 2 });
    expect(pool.verified).toBe(true);
  });

  it('keeps no warm processes with POOL_SIZE=0', async () => {
    const { pool, spawned } = harness({ size: 0 });
    pool.start();
    await settle();
    expect(spawned).toHaveLength(0);
  });

  it('closes a process that fails the handshake, and does not start another for 10 s', async () => {
    const { pool, spawned } = harness({ autoInit: false });
    pool.start();
    await settle();
    spawned[0]!.answerInitialize(false);
    await settle();
    expect(spawned[0]!.closed).toBe(true);
    expect(pool.stats().total).toBe(0);
    expect(pool.verified).toBe(false);

    pool.start();
    await settle();
    expect(spawned).toHaveLength(1);
    await later(10_001);
    pool.start();
    await settle();
    expect(spawned).toHaveLength(2);
  });

  it('closes a process that does not answer the handshake within 30 s', async () => {
    const { pool, spawned } = harness({ autoInit: false });
    pool.start();
    await later(29_999);
    expect(pool.stats().probing).toBe(1);
    await later(1);
    expect(spawned[0]!.closed).toBe(true);
    expect(pool.stats().total).toBe(0);
  });

  it('warms a profile other than the default once it is asked for twice within the TTL, and lets it expire unused', async () => {
    const { pool, spawned } = harness({ hotTtlMs: 1_000 });
    pool.start();
    await settle();
    expect(pool.reserve(OTHER)).toBeUndefined();
    await settle();
    expect(spawned.filter((p) => p.profile === OTHER)).toHaveLength(0);

    expect(pool.reserve(OTHER)).toBeUndefined();
    await settle();
    const [other] = spawned.filter((p) => p.profile === OTHER);
    expect(other).toBeDefined();
    expect(pool.stats().warm).toBe(2);
    expect(pool.reserve(OTHER)).toBe(other!.sessionId);
    pool.release(other!.sessionId);

    await later(1_000);
    expect(other!.closed).toBe(true);
    // the default profile's warm process never expires
    expect(spawned[0]!.closed).toBe(false);
    expect(pool.stats()).toMatchObject({ warm: 1, total: 1 });
  });
});

describe('reservation', () => {
  it('hands a warm process’s session to a new completion, and refills the pool', async () => {
    const { pool, spawned } = harness();
    pool.start();
    await settle();
    const sid = pool.reserve(DEFAULT);
    expect(sid).toBe(spawned[0]!.sessionId);
    expect(pool.stats()).toMatchObject({ reserved: 1, warm: 0 });
    await settle();
    expect(spawned).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ reserved: 1, warm: 1 });

    // the completion's turn runs on the reserved process, nothing new is spawned
    const entry = await pool.checkout(request(sid!, { resume: false }));
    expect(entry.proc).toBe(spawned[0]);
    expect(pool.stats()).toMatchObject({ busy: 1, warm: 1 });
    expect(spawned).toHaveLength(2);
  });

  it('has nothing to hand out while no process is warm', async () => {
    const { pool, spawned } = harness({ autoInit: false });
    pool.start();
    await settle();
    expect(pool.reserve(DEFAULT)).toBeUndefined();
    await settle();
    expect(spawned).toHaveLength(1); // the probing one counts as on its way
  });

  it('takes back a reservation that will not be used: the process is warm again, next in line', async () => {
    const { pool } = harness();
    pool.start();
    await settle();
    const sid = pool.reserve(DEFAULT)!;
    await settle();
    pool.release(sid);
    expect(pool.stats()).toMatchObject({ reserved: 0, warm: 2 });
    expect(pool.reserve(DEFAULT)).toBe(sid);
  });
});

describe('hot sessions', () => {
  it('sends a session’s next turn to its process, which stays hot for the TTL after each turn', async () => {
    const { pool } = harness({ hotTtlMs: 1_000 });
    pool.start();
    await settle();
    const sid = pool.reserve(DEFAULT)!;
    const first = await turn(pool, request(sid, { resume: false }));
    expect(pool.stats().hot).toBe(1);

    await later(900);
    expect(await turn(pool, request(sid))).toBe(first);
    await later(900); // the TTL starts again after each turn
    expect(first.closed).toBe(false);
    await later(100);
    expect(first.closed).toBe(true);
    expect(pool.stats()).toMatchObject({ hot: 0, warm: 1 });

    const cold = await turn(pool, request(sid));
    expect(cold).not.toBe(first);
    expect(cold.session).toEqual({ id: sid, resume: true });
  });

  it('moves a session whose settings changed to a new process, closing the old one', async () => {
    const { pool } = harness({ size: 0 });
    const sid = randomUUID();
    const first = await turn(pool, request(sid, { resume: false }));
    const second = await turn(pool, request(sid, { systemPrompt: OTHER.systemPrompt }));
    expect(second).not.toBe(first);
    expect(first.closed).toBe(true);
    expect(second.session).toEqual({ id: sid, resume: true });
    expect(second.profile.systemPrompt).toBe('be brief');
  });

  it('gives a session one process: a new turn of a busy session is not given a second one', async () => {
    const { pool, spawned } = harness({ size: 0 });
    const sid = randomUUID();
    await turn(pool, request(sid, { resume: false }));
    const entry = await pool.checkout(request(sid));
    expect(spawned).toHaveLength(1);
    expect(entry.proc).toBe(spawned[0]);
  });
});

describe('the bound on processes (POOL_MAX_PROCESSES)', () => {
  it('closes the least recently used hot session to keep the default profile warm', async () => {
    const { pool, spawned } = harness({ maxProcesses: 3 });
    pool.start();
    await settle();
    const a = await turn(pool, request(pool.reserve(DEFAULT)!, { resume: false }));
    await settle();
    await later(10);
    const b = await turn(pool, request(pool.reserve(DEFAULT)!, { resume: false }));
    await settle();
    await later(10);
    expect(pool.stats()).toMatchObject({ hot: 2, warm: 1, total: 3 });

    pool.reserve(DEFAULT); // the last warm one: its refill needs a place
    await settle();
    expect(a.closed).toBe(true);
    expect(b.closed).toBe(false);
    expect(spawned).toHaveLength(4);
    expect(pool.stats()).toMatchObject({ hot: 1, reserved: 1, warm: 1, total: 3 });
  });

  it('makes room for a turn by closing an idle process, a warm one before a hot one', async () => {
    const { pool, spawned } = harness({ maxProcesses: 2 });
    const s = await turn(pool, request(randomUUID())); // hot, and the least recently used
    await later(10);
    pool.start();
    await settle();
    const warm = spawned[1];
    expect(pool.stats()).toMatchObject({ hot: 1, warm: 1 });

    await turn(pool, request(randomUUID()));
    await settle();
    expect(warm!.closed).toBe(true);
    expect(s.closed).toBe(false);
  });

  it('never refuses a turn a process: above the bound, idle processes go as the busy ones come back', async () => {
    const { pool } = harness({ size: 0, maxProcesses: 2 });
    const x = await pool.checkout(request(randomUUID()));
    const y = await pool.checkout(request(randomUUID()));
    const z = await pool.checkout(request(randomUUID()));
    expect(pool.stats()).toMatchObject({ busy: 3, total: 3 });

    pool.checkin(x);
    await settle();
    expect((x.proc as unknown as FakeCli).closed).toBe(true);
    pool.checkin(y);
    pool.checkin(z);
    await settle();
    expect(pool.stats()).toMatchObject({ hot: 2, total: 2 });
  });
});

describe('recycling', () => {
  it('closes a process after POOL_MAX_TURNS turns; the session resumes in a new one', async () => {
    const { pool } = harness({ size: 0, maxTurns: 2 });
    const sid = randomUUID();
    const first = await turn(pool, request(sid, { resume: false }));
    expect(await turn(pool, request(sid))).toBe(first);
    await settle();
    expect(first.closed).toBe(true);
    const next = await turn(pool, request(sid));
    expect(next).not.toBe(first);
    expect(next.session).toEqual({ id: sid, resume: true });
  });

  it('reads resident memory every fifth turn, and closes a process above POOL_MAX_RSS_MB', async () => {
    const { pool } = harness({ size: 0, maxRssMb: 1024 });
    const sid = randomUUID();
    const proc = await turn(pool, request(sid, { resume: false }));
    proc.rss = 2_000;
    for (let i = 2; i <= 4; i++) expect(await turn(pool, request(sid))).toBe(proc);
    expect(proc.rssReads).toBe(0);
    expect(proc.closed).toBe(false);
    await turn(pool, request(sid));
    await settle();
    expect(proc.rssReads).toBe(1);
    expect(proc.closed).toBe(true);
  });

  it('keeps a process under the memory ceiling', async () => {
    const { pool } = harness({ size: 0, maxRssMb: 1024 });
    const sid = randomUUID();
    const proc = await turn(pool, request(sid, { resume: false }));
    proc.rss = 500;
    for (let i = 2; i <= 5; i++) await turn(pool, request(sid));
    expect(proc.rssReads).toBe(1);
    expect(proc.closed).toBe(false);
    expect(pool.stats().hot).toBe(1);
  });
});

describe('processes that die', () => {
  it('a hot process that died: the session’s next turn resumes in a new one', async () => {
    const { pool } = harness({ size: 0 });
    const sid = randomUUID();
    const first = await turn(pool, request(sid, { resume: false }));
    first.die();
    await settle();
    expect(pool.stats().total).toBe(0);
    const next = await turn(pool, request(sid));
    expect(next).not.toBe(first);
    expect(next.session).toEqual({ id: sid, resume: true });
  });

  it('a warm process that died is replaced', async () => {
    const { pool, spawned } = harness();
    pool.start();
    await settle();
    await later(6_000);
    spawned[0]!.die();
    await settle();
    expect(spawned).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ warm: 1, total: 1 });
  });

  it('a reserved process that died gives its place to a new warm one', async () => {
    const { pool, spawned } = harness({ size: 1, maxProcesses: 1 });
    pool.start();
    await settle();
    await later(6_000);
    pool.reserve(DEFAULT);
    await settle();
    expect(spawned).toHaveLength(1); // no room for the refill
    spawned[0]!.die();
    await settle();
    expect(spawned).toHaveLength(2);
    expect(pool.stats()).toMatchObject({ warm: 1, total: 1 });
  });

  it('one that dies young is not replaced for 10 s: no spawn loop with a CLI that cannot start', async () => {
    const { pool, spawned } = harness();
    pool.start();
    await settle();
    spawned[0]!.die();
    await settle();
    expect(spawned).toHaveLength(1);
    pool.start();
    await settle();
    expect(spawned).toHaveLength(1);
    await later(10_001);
    expect(pool.reserve(DEFAULT)).toBeUndefined();
    await settle();
    expect(spawned).toHaveLength(2);
  });
});

describe('runs waiting for client function results (parked)', () => {
  const results = (id: string): ToolResult[] => [{ toolCallId: id, content: 'sunny' }];

  it('keeps the run in its process, with no TTL (the caller has it)', async () => {
    const { pool } = harness({ size: 0, hotTtlMs: 1_000 });
    const proc = await park(pool, 'A', 'call_1');
    expect(pool.stats()).toMatchObject({ waiting: 1, hot: 0 });
    await later(10_000);
    expect(proc.closed).toBe(false);
  });

  it('sends the results to the same process without interrupting it', async () => {
    const { pool } = harness({ size: 0 });
    const proc = await park(pool, 'A', 'call_1');
    const entry = await pool.checkout(request('A', { toolResults: results('call_1') }));
    expect(entry.proc).toBe(proc);
    expect(proc.interrupts).toBe(0);
  });

  it('sends no new message to a waiting run: interrupted first (cancelWaiting), it goes on in the same process', async () => {
    const { pool } = harness({ size: 0 });
    const proc = await park(pool, 'A');
    await pool.cancelWaiting('A');
    expect((await pool.checkout(request('A'))).proc).toBe(proc);
  });

  it('replaces a process still waiting when a turn without its results comes', async () => {
    const { pool, spawned } = harness({ size: 0 });
    const proc = await park(pool, 'A');
    const entry = await pool.checkout(request('A'));
    expect(entry.proc).not.toBe(proc);
    expect(proc.closed).toBe(true);
    expect(spawned).toHaveLength(2);
  });

  it('cancelWaiting interrupts the run and keeps the process hot for the session', async () => {
    const { pool } = harness({ size: 0 });
    const proc = await park(pool, 'A');
    await pool.cancelWaiting('A');
    expect(proc.interrupts).toBe(1);
    expect(pool.stats()).toMatchObject({ waiting: 0, hot: 1 });
    await pool.cancelWaiting('nobody'); // nothing waits: nothing happens
  });

  it('beyond MAX_PARKED_RUNS evicts the run waiting longest: interrupted, closed, its caller told', async () => {
    const { pool, lost } = harness({ size: 0, maxParked: 2 });
    const a = await park(pool, 'A');
    await later(10);
    await park(pool, 'B');
    await later(10);
    await park(pool, 'C');
    await settle();
    expect(lost).toEqual([['A', 'evicted']]);
    expect(a.interrupts).toBe(1);
    expect(a.closed).toBe(true);
    expect(pool.stats()).toMatchObject({ waiting: 2, total: 2 });
  });

  it('counts against the process bound: a new turn with nothing idle left evicts the oldest', async () => {
    const { pool, lost } = harness({ size: 0, maxProcesses: 2 });
    const a = await park(pool, 'A');
    await later(10);
    await park(pool, 'B');
    await turn(pool, request(randomUUID()));
    await settle();
    expect(lost).toEqual([['A', 'evicted']]);
    expect(a.closed).toBe(true);
    expect(pool.stats()).toMatchObject({ waiting: 1, hot: 1, total: 2 });
  });

  it('is never evicted to warm the pool', async () => {
    const { pool, lost, spawned } = harness({ size: 1, maxProcesses: 2 });
    await park(pool, 'A');
    await park(pool, 'B');
    pool.start();
    await settle();
    expect(lost).toEqual([]);
    expect(spawned).toHaveLength(2);
  });

  it('tells the caller at once when the process of a waiting run exits', async () => {
    const { pool, lost } = harness({ size: 0 });
    const proc = await park(pool, 'A');
    proc.die();
    await settle();
    expect(lost).toEqual([['A', 'exited']]);
    expect(pool.stats().total).toBe(0);
  });
});

describe('close()', () => {
  it('closes every process, whatever its state, and starts no new ones', async () => {
    const { pool, spawned } = harness({ size: 2 });
    pool.start();
    await settle();
    const hot = await turn(pool, request(pool.reserve(DEFAULT)!, { resume: false }));
    await park(pool, 'A');
    const busy = await pool.checkout(request(randomUUID()));
    await settle();
    expect(spawned.length).toBeGreaterThanOrEqual(5);

    await pool.close();
    expect(spawned.every((p) => p.closed)).toBe(true);
    expect(hot.closed).toBe(true);
    expect(pool.stats().total).toBe(0);

    pool.start();
    pool.checkin(busy);
    await settle();
    expect(spawned.every((p) => p.closed)).toBe(true);
    expect(pool.reserve(DEFAULT)).toBeUndefined();
  });

  it('lets a turn that comes after close run, then closes its process', async () => {
    const { pool } = harness({ size: 0 });
    await pool.close();
    const proc = await turn(pool, request(randomUUID()));
    await settle();
    expect(proc.closed).toBe(true);
    expect(pool.stats().total).toBe(0);
  });

  it('closes a process whose spawn was still under way', async () => {
    const { pool, spawned, held } = harness({ holdSpawns: true });
    pool.start();
    await settle();
    expect(held).toHaveLength(1);
    await pool.close();
    held[0]!();
    await settle();
    expect(spawned).toHaveLength(1);
    expect(spawned[0]!.closed).toBe(true);
    expect(pool.stats().total).toBe(0);
  });
});
