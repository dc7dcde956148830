// /v1/processes: background runs, listing, cancelling, the queue bound, per-session order and
// what a gateway restart leaves behind. Clients: plain fetch, the OpenAI SDK and `ws`.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir, useMockGateway } from '../support/gateway.js';
import { spawnGateway } from '../support/spawn-gateway.js';
import { completion, fetchJson, isAlive, killQuietly, openEvents, processesMatching, readPidFile, waitFor, waitForStatus } from '../support/process-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('processes (fake CLI)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake: true });
    mkdirSync(gw.home, { recursive: true }); // where the fake CLI writes its pid files
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('background: true answers 202 with a process object that completes with a chat.completion', async () => {
    const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('hello in background', { background: true }) });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ object: 'process', model: 'sonnet', result: null, error: null, completed_at: null });
    expect(['queued', 'running']).toContain(r.body.status);
    expect(r.body.id).toMatch(/^proc_[0-9a-f]{32}$/);
    expect(r.body.session_id).toMatch(UUID);
    expect(r.headers.get('x-process-id')).toBe(r.body.id);
    expect(r.headers.get('x-session-id')).toBe(r.body.session_id);

    const done = await waitForStatus(gw.url, r.body.id, ['completed', 'failed', 'cancelled']);
    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({
      object: 'chat.completion',
      process_id: r.body.id,
      session_id: r.body.session_id,
      choices: [{ index: 0, message: { role: 'assistant', content: 'fake answer' }, finish_reason: 'stop' }],
    });
    expect(done.started_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.started_at);
  });

  it('lists newest first, filters by status and session_id, pages with limit and after', async () => {
    const first = await gw.openai.chat.completions.create(completion('list one') as any);
    const sid = (first as any).session_id as string;
    const second = await gw.openai.chat.completions.create(completion('list two', { session_id: sid }) as any);
    const third = await gw.openai.chat.completions.create(completion('list three') as any);
    const ids = [(third as any).process_id, (second as any).process_id, (first as any).process_id];

    const all = await fetchJson(`${gw.url}/v1/processes?limit=100`);
    expect(all.status).toBe(200);
    expect(all.body.object).toBe('list');
    const listed: string[] = all.body.data.map((p: any) => p.id);
    // newest first: these three in reverse creation order, at the head of the list
    expect(listed.slice(0, 3)).toEqual(ids);
    const created = all.body.data.map((p: any) => p.created_at);
    expect([...created].sort((a, b) => b - a)).toEqual(created);
    expect(all.body.first_id).toBe(ids[0]);

    const bySession = await fetchJson(`${gw.url}/v1/processes?session_id=${sid}`);
    expect(bySession.body.data.map((p: any) => p.id)).toEqual([ids[1], ids[2]]);

    const completed = await fetchJson(`${gw.url}/v1/processes?status=completed&limit=100`);
    expect(completed.body.data.length).toBeGreaterThanOrEqual(3);
    expect(completed.body.data.every((p: any) => p.status === 'completed')).toBe(true);
    const none = await fetchJson(`${gw.url}/v1/processes?status=cancelled&session_id=${sid}`);
    expect(none.body).toMatchObject({ data: [], has_more: false });

    // pages of one, walked with `after`
    const page1 = await fetchJson(`${gw.url}/v1/processes?limit=1`);
    expect(page1.body.data.map((p: any) => p.id)).toEqual([ids[0]]);
    expect(page1.body.has_more).toBe(true);
    expect(page1.body.last_id).toBe(ids[0]);
    const page2 = await fetchJson(`${gw.url}/v1/processes?limit=1&after=${page1.body.last_id}`);
    expect(page2.body.data.map((p: any) => p.id)).toEqual([ids[1]]);
    const page3 = await fetchJson(`${gw.url}/v1/processes?limit=2&after=${ids[0]}&session_id=${sid}`);
    expect(page3.body.data.map((p: any) => p.id)).toEqual([ids[1], ids[2]]);
    expect(page3.body.has_more).toBe(false);

    const bad = await fetchJson(`${gw.url}/v1/processes?status=nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error' });
  });

  it('DELETE of a running process cancels it and kills the CLI with its grandchild; again is idempotent', async () => {
    const pidFile = path.join(gw.home, 'fake-claude-grandchild.pid');
    rmSync(pidFile, { force: true });
    const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('FAKE_HANG now', { background: true }) });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    await waitForStatus(gw.url, id, ['running']);
    const grandchild = await waitFor(() => readPidFile(pidFile), { what: 'the fake CLI to write its grandchild pid' });
    const fakePid = readPidFile(path.join(gw.home, 'fake-claude.pid'));
    expect(isAlive(grandchild)).toBe(true);

    try {
      const del = await fetchJson(`${gw.url}/v1/processes/${id}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(del.body).toMatchObject({ id, object: 'process', status: 'cancelled', result: null });
      expect(del.body.error).toMatchObject({ code: 'cancelled' });
      expect(del.body.completed_at).not.toBeNull();
      // the fake ignores SIGTERM: the group is SIGKILLed after KILL_GRACE_MS (500 ms)
      await waitFor(() => !isAlive(grandchild) && (!fakePid || !isAlive(fakePid)), {
        timeoutMs: 3_000,
        what: 'the fake CLI and its grandchild to die',
      });

      const again = await fetchJson(`${gw.url}/v1/processes/${id}`, { method: 'DELETE' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(del.body);
      expect((await fetchJson(`${gw.url}/v1/processes/${id}`)).body).toEqual(del.body);
    } finally {
      killQuietly(grandchild);
      killQuietly(fakePid);
    }
  });

  it('a synchronous request whose process is DELETEd answers 409 cancelled', async () => {
    const waiting = fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('FAKE_HANG sync') });
    const id = await waitFor(async () => {
      const list = await fetchJson(`${gw.url}/v1/processes?status=running`);
      return list.body.data[0]?.id as string | undefined;
    });
    const del = await fetchJson(`${gw.url}/v1/processes/${id}`, { method: 'DELETE' });
    expect(del.body.status).toBe('cancelled');
    const answer = await waiting;
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ type: 'cancelled', code: 'cancelled' });
    expect(answer.headers.get('x-process-id')).toBe(id);
  });

  it('DELETE of a completed process returns it unchanged', async () => {
    const done: any = await gw.openai.chat.completions.create(completion('finish first') as any);
    const before = (await fetchJson(`${gw.url}/v1/processes/${done.process_id}`)).body;
    expect(before.status).toBe('completed');
    for (let i = 0; i < 2; i++) {
      const del = await fetchJson(`${gw.url}/v1/processes/${done.process_id}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(del.body).toEqual(before);
    }
  });

  it('an unknown process id is a 404 with an OpenAI error body', async () => {
    for (const method of ['GET', 'DELETE']) {
      const r = await fetchJson(`${gw.url}/v1/processes/proc_${'0'.repeat(32)}`, { method });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({
        error: { message: expect.stringContaining('does not exist'), type: 'invalid_request_error', param: 'id', code: 'process_not_found' },
      });
    }
    const odd = await fetchJson(`${gw.url}/v1/processes/not-a-process`);
    expect(odd.status).toBe(404);
    expect(odd.body.error.type).toBe('invalid_request_error');
  });
});

describe('queue bound (fake CLI, MAX_CONCURRENCY 1, MAX_QUEUE 1)', () => {
  let gw: TestGateway;
  afterEach(async () => {
    await gw?.close();
  });

  it('a third concurrent request gets 429 with Retry-After; the other two complete', async () => {
    gw = await startGateway({ fake: true, env: { MAX_CONCURRENCY: '1', MAX_QUEUE: '1' } });
    const post = (n: number) => fetchJson(`${gw.url}/v1/chat/completions`, { body: completion(`FAKE_SLOW_STREAM ${n}`) });
    // in order: the first runs, the second waits, the third finds the queue full
    const p1 = post(1);
    await waitFor(async () => (await fetchJson(`${gw.url}/v1/processes?status=running`)).body.data.length === 1);
    const p2 = post(2);
    await waitFor(async () => (await fetchJson(`${gw.url}/v1/processes?status=queued`)).body.data.length === 1);
    const r3 = await post(3);
    expect(r3.status).toBe(429);
    expect(Number(r3.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(r3.body.error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });

    const [r1, r2] = await Promise.all([p1, p2]);
    for (const r of [r1, r2]) {
      expect(r.status).toBe(200);
      expect(r.body.choices[0].message.content).toBe(Array.from({ length: 10 }, (_, i) => `tok${i} `).join(''));
    }
    // one at a time: the second started only after the first had finished
    const [a, b] = await Promise.all([r1, r2].map(async (r) => (await fetchJson(`${gw.url}/v1/processes/${r.body.process_id}`)).body));
    expect(b.started_at).toBeGreaterThanOrEqual(a.completed_at);
    // the refused request left no record behind
    expect((await fetchJson(`${gw.url}/v1/processes`)).body.data).toHaveLength(2);

    // and with the queue drained, requests are accepted again
    const after = await post(4);
    expect(after.status).toBe(200);
  });
});

describe('per-session order (real CLI + mock)', () => {
  const ctx = useMockGateway();

  it('two turns sent at once on one session run one after the other and both reach the transcript', async () => {
    const turn0: any = await ctx.gw.openai.chat.completions.create(completion('ORDER_TURN_ZERO remember kiwi') as any);
    const sid = turn0.session_id as string;
    expect(sid).toMatch(UUID);
    // slow replies, so that the turns would overlap if they were not serialised
    ctx.mock.on('ORDER_TURN_', { text: ['slow ', 'reply'], firstByteDelayMs: 300 });

    const send = (text: string) =>
      fetchJson(`${ctx.gw.url}/v1/chat/completions`, { body: completion(text, { session_id: sid }) });
    const [ra, rb] = await Promise.all([send('ORDER_TURN_A apple'), send('ORDER_TURN_B banana')]);
    expect(ra.status).toBe(200);
    expect(rb.status).toBe(200);
    expect(ra.body.session_id).toBe(sid);
    expect(rb.body.session_id).toBe(sid);

    const recs = await Promise.all([ra, rb].map(async (r) => (await fetchJson(`${ctx.gw.url}/v1/processes/${r.body.process_id}`)).body));
    const [firstRec, secondRec] = [...recs].sort((x, y) => x.started_at - y.started_at);
    expect(secondRec.started_at).toBeGreaterThanOrEqual(firstRec.completed_at);
    const firstText = firstRec.id === ra.body.process_id ? 'ORDER_TURN_A apple' : 'ORDER_TURN_B banana';
    const secondText = firstRec.id === ra.body.process_id ? 'ORDER_TURN_B banana' : 'ORDER_TURN_A apple';

    // the second turn's upstream request carries the whole conversation, the first turn included
    const secondReq = ctx.mock.messageRequests().filter((q) => q.lastUserText.includes(secondText)).at(-1)!;
    expect(secondReq).toBeDefined();
    const history = JSON.stringify(secondReq.body.messages);
    expect(history).toContain('ORDER_TURN_ZERO remember kiwi');
    expect(history).toContain(firstText);

    const listed = await fetchJson(`${ctx.gw.url}/v1/processes?session_id=${sid}`);
    expect(listed.body.data).toHaveLength(3);
    expect(listed.body.data.every((p: any) => p.status === 'completed')).toBe(true);
  });
});

describe('restart', () => {
  let child: ChildProcess | undefined;
  let gw: TestGateway | undefined;
  const dir = tempDir('gw-restart-');
  const home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // the killed gateway could not clean up after itself: its CLI group is ours to end
    killQuietly(readPidFile(path.join(home, 'fake-claude.pid')), true);
    killQuietly(readPidFile(path.join(home, 'fake-claude-grandchild.pid')));
    for (const pid of processesMatching(dir)) killQuietly(pid);
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real entry point in a child process, so that it can be SIGKILLed like a crash. */
  const spawnCrashable = () =>
    spawnGateway({
      HOME: home,
      ANTHROPIC_API_KEY: 'sk-test',
      DATA_DIR: path.join(dir, 'data'),
      CLAUDE_WORKDIR: path.join(dir, 'workspace'),
      CLAUDE_BIN: FAKE_CLAUDE,
    });

  it('records survive a crash; the interrupted process is failed with a clear error and a replayable event', async () => {
    const first = await spawnCrashable();
    child = first.child;
    const done = await fetchJson(`${first.url}/v1/chat/completions`, { body: completion('before the crash') });
    expect(done.status).toBe(200);
    const bg = await fetchJson(`${first.url}/v1/chat/completions`, { body: completion('FAKE_HANG forever', { background: true }) });
    expect(bg.status).toBe(202);
    await waitForStatus(first.url, bg.body.id, ['running']);
    await waitFor(() => readPidFile(path.join(home, 'fake-claude-grandchild.pid')), { what: 'the hanging fake CLI' });

    expect(await first.stop('SIGKILL')).toBeNull(); // killed, no exit code: nothing could be cleaned up

    gw = await startGateway({ fake: true, dir });
    const old = await fetchJson(`${gw.url}/v1/processes/${done.body.process_id}`);
    expect(old.status).toBe(200);
    expect(old.body.status).toBe('completed');
    expect(old.body.result.choices[0].message.content).toBe('fake answer');

    const interrupted = await fetchJson(`${gw.url}/v1/processes/${bg.body.id}`);
    expect(interrupted.body.status).toBe('failed');
    expect(interrupted.body.completed_at).not.toBeNull();
    expect(interrupted.body.error).toMatchObject({ code: 'gateway_restarted', type: 'api_error' });
    expect(interrupted.body.error.message).toMatch(/gateway stopped while this process was running/);

    const list = await fetchJson(`${gw.url}/v1/processes`);
    expect(list.body.data.map((p: any) => p.id)).toEqual([bg.body.id, done.body.process_id]);

    // the PROCESS_COMPLETE of the interrupted process can be replayed by any subscriber
    const sub = await openEvents(gw.url, { since: 0, process_id: bg.body.id });
    try {
      const complete = await sub.next((e) => e.type === 'PROCESS_COMPLETE', 3_000);
      expect(complete).toMatchObject({ process_id: bg.body.id, status: 'failed', error: { code: 'gateway_restarted' } });
      expect(sub.events.map((e) => e.type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);
    } finally {
      await sub.close();
    }

    // and it serves again on the same directory
    const again = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('after the restart') });
    expect(again.status).toBe(200);
  });
});

describe('records written before results were kept neutral', () => {
  let gw: TestGateway | undefined;
  const dir = tempDir('gw-legacy-');
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are served as they were, on /v1/processes and in replayed events, and rewritten neutral', async () => {
    const processId = `proc_${'b'.repeat(32)}`;
    const sessionId = '5d2f8f0e-1c3b-4a6d-8e9f-0a1b2c3d4e5f';
    const legacy = {
      id: `chatcmpl-${'c'.repeat(32)}`,
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'sonnet',
      choices: [{ index: 0, message: { role: 'assistant', content: 'from before', refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34, prompt_tokens_details: { cached_tokens: 12 } },
      session_id: sessionId,
      process_id: processId,
      claude_metadata: { type: 'result', subtype: 'success', result: 'from before' },
    };
    const times = { created_at: 1_700_000_000.1, started_at: 1_700_000_000.2, completed_at: 1_700_000_001.3 };
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const record = { id: processId, object: 'process', status: 'completed', model: 'sonnet', session_id: sessionId, ...times, result: legacy, error: null, required_action: null };
    writeFileSync(path.join(data, 'processes.jsonl'), `${JSON.stringify(record)}\n`);
    const event = { seq: 1, type: 'PROCESS_COMPLETE', ts: times.completed_at, process_id: processId, session_id: sessionId, status: 'completed', model: 'sonnet' };
    writeFileSync(path.join(data, 'events.jsonl'), `${JSON.stringify(event)}\n`);

    gw = await startGateway({ fake: true, dir });
    const got = await fetchJson(`${gw.url}/v1/processes/${processId}`);
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body.result)).toBe(JSON.stringify(legacy));
    const sub = await openEvents(gw.url, { since: 0, process_id: processId });
    try {
      expect((await sub.next((e) => e.type === 'PROCESS_COMPLETE', 3_000)).result).toEqual(legacy);
    } finally {
      await sub.close();
    }
    expect(JSON.parse(readFileSync(path.join(data, 'processes.jsonl'), 'utf8')).result).toMatchObject({ completionId: 'c'.repeat(32), text: 'from before' });
  });
});
