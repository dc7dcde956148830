import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClaudeCliProvider } from '../../providers/claude-cli/index.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir, waitForWarmPool } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { fetchJson, isAlive, processesMatching, readPidFile, sleep, waitFor } from '../support/process-helpers.js';
import { type SpawnedGateway, spawnGateway } from '../support/spawn-gateway.js';

const ask = async (gw: TestGateway, content: string, extra: Record<string, unknown> = {}) => {
  const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages: [{ role: 'user', content }], ...extra } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { text: r.body.choices[0].message.content as string, sessionId: r.body.session_id as string, headers: r.headers };
};
const stats = (gw: TestGateway) => (gw.provider as ClaudeCliProvider).stats()!;

describe('the process pool (fake CLI)', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('keeps a warm process ready, serves a fresh completion from it, and refills', async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '1' } });
    await waitFor(() => stats(gw!).warm === 1, { what: 'a warm process' });
    const [warmPid] = processesMatching(`--input-format=stream-json`).filter((p) => processesMatching(gw!.dir).includes(p));
    expect(warmPid).toBeDefined();
    const first = await ask(gw, 'FAKE_PID');
    expect(Number(first.text)).toBe(warmPid);
    await waitFor(() => stats(gw!).warm === 1 && stats(gw!).hot === 1, { what: 'the pool to refill' });
  });

  it('sends the next turn of a session to its hot process, and resumes in a new one after the TTL', async () => {
    gw = await startGateway({ fake: true, env: { POOL_HOT_TTL_MS: '400' } });
    await waitForWarmPool(gw);
    const first = await ask(gw, 'FAKE_TURNS');
    expect(first.text).toBe('1');
    const hot = await ask(gw, 'FAKE_TURNS', { session_id: first.sessionId });
    expect(hot.text).toBe('2');
    expect(hot.sessionId).toBe(first.sessionId);
    const pid = Number((await ask(gw, 'FAKE_PID', { session_id: first.sessionId })).text);

    await sleep(700); // past the TTL: the process is cleared back into the pool or closed
    const cold = await ask(gw, 'FAKE_PID', { session_id: first.sessionId });
    expect(Number(cold.text)).not.toBe(pid);
    expect(cold.sessionId).toBe(first.sessionId);
    expect(processesMatching(`--resume=${first.sessionId}`)).toEqual([Number(cold.text)]);
  });

  it('moves a session to a new process when its settings change, and recycles after POOL_MAX_TURNS', async () => {
    gw = await startGateway({ fake: true, env: { POOL_MAX_TURNS: '2' } });
    await waitForWarmPool(gw);
    const first = await ask(gw, 'FAKE_PID');
    const sid = first.sessionId;
    const other = await ask(gw, 'FAKE_PID', {
      session_id: sid,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'FAKE_PID' }],
    });
    expect(other.text).not.toBe(first.text);
    await waitFor(() => !isAlive(Number(first.text)), { what: 'the first process to close' });

    const second = await ask(gw, 'FAKE_PID', {
      session_id: sid,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'FAKE_PID' }],
    });
    expect(second.text).toBe(other.text); // turn 2 of that process
    await waitFor(() => !isAlive(Number(other.text)), { what: 'the process to be recycled after 2 turns' });
    const third = await ask(gw, 'FAKE_PID', {
      session_id: sid,
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'FAKE_PID' }],
    });
    expect(third.text).not.toBe(other.text);
  });

  it('keeps the default profile warm at the bound, closing the least recently used hot session', async () => {
    gw = await startGateway({ fake: true, env: { POOL_MAX_PROCESSES: '2' } });
    await waitForWarmPool(gw);
    const a = await ask(gw, 'FAKE_TURNS');
    await waitFor(() => stats(gw!).warm === 1, { what: 'the refill after the first completion' });
    await ask(gw, 'FAKE_TURNS'); // takes the warm one: two hot sessions now, at the bound
    await waitFor(() => stats(gw!).warm === 1 && stats(gw!).hot === 1, { what: 'a warm process in place of the older hot session' });
    // the older session's process went: its next turn resumes in a new process
    expect((await ask(gw, 'FAKE_TURNS', { session_id: a.sessionId })).text).toBe('1');
  });

  it('replaces a process that died while idle, transparently', async () => {
    gw = await startGateway({ fake: true });
    await waitForWarmPool(gw);
    const first = await ask(gw, 'FAKE_PID');
    process.kill(Number(first.text), 'SIGKILL');
    await waitFor(() => !isAlive(Number(first.text)));
    const next = await ask(gw, 'FAKE_PID', { session_id: first.sessionId });
    expect(next.text).not.toBe(first.text);
    expect(next.sessionId).toBe(first.sessionId);
  });

  it('retries on a fresh process when the reserved one dies before answering', async () => {
    gw = await startGateway({ fake: true });
    await waitFor(() => stats(gw!).warm === 1, { what: 'a warm process' });
    const warm = processesMatching('--input-format=stream-json').filter((p) => processesMatching(gw!.dir).includes(p));
    expect(warm).toHaveLength(1);
    const answer = ask(gw, 'FAKE_PID');
    for (const pid of warm) process.kill(pid, 'SIGKILL');
    const { text } = await answer;
    expect(warm).not.toContain(Number(text));
  });

  it('runs one-shot with a CLI that only knows -p, never waiting on its long-lived mode', async () => {
    // A minimal `claude`: reads all of stdin, answers one json result, and knows no other mode.
    const dir = tempDir('oneshot-only-');
    const bin = path.join(dir, 'claude');
    writeFileSync(
      bin,
      `#!/usr/bin/env node
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const id = (process.argv.find((a) => a.startsWith('--session-id=')) ?? '=x').split('=')[1];
  process.stdout.write(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'only -p: ' + input.length, session_id: id, usage: {} }) + '\\n');
});
`,
      { mode: 0o755 },
    );
    gw = await startGateway({ env: { CLAUDE_BIN: bin } });
    try {
      const { text } = await ask(gw, 'hello');
      expect(text).toBe('only -p: 5');
      expect(stats(gw).warm).toBe(0);
    } finally {
      await gw.close();
      gw = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports the time spent in the gateway outside the CLI', async () => {
    gw = await startGateway({ fake: true });
    const { headers } = await ask(gw, 'hello');
    const overhead = Number(headers.get('x-gateway-overhead-ms'));
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThan(1_000);
  });

  it('takes no warm process for a request the readiness check refuses, streamed or not', async () => {
    // A `claude` whose long-lived mode works (so the pool warms up) but whose `--version` fails.
    const dir = tempDir('broken-version-');
    const bin = path.join(dir, 'claude');
    writeFileSync(
      bin,
      `#!/bin/sh
case " $* " in *" --version "*) echo "version check broken" >&2; exit 1;; esac
exec "${process.execPath}" "${FAKE_CLAUDE}" "$@"
`,
      { mode: 0o755 },
    );
    gw = await startGateway({ env: { CLAUDE_BIN: bin } });
    try {
      await waitForWarmPool(gw);
      for (const stream of [true, false]) {
        const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', stream, messages: [{ role: 'user', content: 'hi' }] } });
        expect(r.status, JSON.stringify(r.body)).toBe(503);
        expect(r.body.error).toMatchObject({ code: 'claude_unusable', message: expect.stringContaining('version check broken') });
        expect(r.headers.get('x-process-id')).toBeNull();
        expect(stats(gw)).toMatchObject({ warm: 1, reserved: 0 });
      }
    } finally {
      await gw.close();
      gw = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a reserved warm process back when the queue refuses its request', async () => {
    gw = await startGateway({ fake: true, env: { MAX_CONCURRENCY: '1', MAX_QUEUE: '0' } });
    await waitForWarmPool(gw);
    const hanging = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', background: true, messages: [{ role: 'user', content: 'FAKE_HANG' }] } });
    expect(hanging.status).toBe(202);
    await waitFor(() => stats(gw!).busy === 1 && stats(gw!).warm === 1, { what: 'the hanging run on one process, another warm' });
    const refused = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } });
    expect(refused.status).toBe(429);
    expect(stats(gw)).toMatchObject({ busy: 1, warm: 1, reserved: 0 });
  });
});

describe('the process pool with the real CLI', () => {
  let mock: MockUpstream;
  let pooled: TestGateway;
  let oneShot: TestGateway;
  beforeAll(async () => {
    mock = await startMockAnthropic();
    pooled = await startGateway({ mock });
    await waitForWarmPool(pooled);
    oneShot = await startGateway({ mock, env: { POOL_SIZE: '0' } });
  });
  afterAll(async () => {
    await pooled?.close();
    await oneShot?.close();
    await mock?.close();
  });

  /** Two turns of one session; what the upstream was sent for the second. */
  async function twoTurns(gw: TestGateway, tag: string) {
    mock.on(`${tag} one`, { text: `${tag} answer one` });
    const a = await ask(gw, `${tag} one`);
    const b = await ask(gw, `${tag} two`, { session_id: a.sessionId });
    expect(b.sessionId).toBe(a.sessionId);
    const req = mock.messageRequests().at(-1)!;
    return req.body.messages.map((m: any) => ({
      role: m.role,
      text: (typeof m.content === 'string' ? m.content : m.content.map((c: any) => c.text ?? '').join('')).replaceAll(tag, 'TAG'),
    }));
  }

  it('recycles a process above POOL_MAX_RSS_MB', async () => {
    // The real CLI idles at well over 64 MB, so its first memory check (every 5 turns) recycles it.
    const g = await startGateway({ mock, env: { POOL_MAX_RSS_MB: '64' } });
    try {
      await waitForWarmPool(g);
      const first = await ask(g, 'rss one');
      const pids = () => processesMatching(`--session-id=${first.sessionId}`);
      const pid = pids()[0];
      expect(pid).toBeDefined();
      for (let i = 0; i < 4; i++) await ask(g, 'rss again', { session_id: first.sessionId });
      await waitFor(() => !isAlive(pid!), { what: 'the process to be recycled' });
      const next = await ask(g, 'rss after', { session_id: first.sessionId });
      expect(next.sessionId).toBe(first.sessionId);
    } finally {
      await g.close();
    }
  });

  it('gives a hot session the same transcript as the cold path', async () => {
    const hot = await twoTurns(pooled, 'POOLED');
    const cold = await twoTurns(oneShot, 'ONESHOT');
    const strip = (ms: { role: string; text: string }[]) => ms.filter((m) => m.role !== 'system');
    expect(strip(hot)).toEqual(strip(cold));
    expect(strip(hot).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });
});

describe('CLI processes die with the gateway', () => {
  let gw: SpawnedGateway | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await gw?.stop('SIGKILL');
    gw = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it.each([
    ['one-shot', { POOL_SIZE: '0' }],
    ['pooled', {}],
  ])('even mid-run when the gateway is SIGKILLed (%s)', async (_mode, env) => {
    const dir = tempDir();
    dirs.push(dir);
    mkdirSync(path.join(dir, 'home')); // where the fake CLI writes its pid files
    gw = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), HOME: path.join(dir, 'home'), CLAUDE_BIN: FAKE_CLAUDE, ...env });
    const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', background: true, messages: [{ role: 'user', content: 'FAKE_HANG' }] } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const grandchild = await waitFor(() => readPidFile(path.join(dir, 'home', 'fake-claude-grandchild.pid')), { what: 'the hanging run' });
    const fake = readPidFile(path.join(dir, 'home', 'fake-claude.pid'))!;
    await gw.stop('SIGKILL');
    gw = undefined;
    await waitFor(() => !isAlive(fake) && !isAlive(grandchild) && processesMatching(dir).length === 0, {
      timeoutMs: 5_000,
      what: 'the hanging CLI, its child and every other CLI to die',
    });
  });
});

describe('pool processes die with the gateway', () => {
  let gw: SpawnedGateway | undefined;
  afterAll(async () => {
    await gw?.stop('SIGKILL');
  });

  it('even when the gateway is SIGKILLed', async () => {
    const mock = await startMockAnthropic();
    const dir = tempDir();
    try {
      gw = await spawnGateway({
        DATA_DIR: path.join(dir, 'data'),
        HOME: path.join(dir, 'home'),
        ANTHROPIC_BASE_URL: mock.url,
        ANTHROPIC_API_KEY: 'sk-test',
        POOL_SIZE: '2',
      });
      const url = gw.url;
      await waitFor(async () => (await fetchJson(`${url}/ready`)).body.pool?.warm === 2, { timeoutMs: 20_000, what: 'two warm processes' });
      const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } });
      expect(r.status).toBe(200);
      expect((await fetchJson(`${url}/ready`)).body.pool.hot).toBe(1);
      const live = await waitFor(() => {
        const pids = processesMatching(dir);
        return pids.length >= 3 ? pids : undefined; // two warm + one hot
      }, { what: 'the pool processes' });
      await gw.stop('SIGKILL');
      gw = undefined;
      await waitFor(() => live.every((p) => !isAlive(p)), { timeoutMs: 5_000, what: 'every pool process to exit' });
    } finally {
      await mock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
