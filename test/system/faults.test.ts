// Faults of the CLI itself, injected with the fake CLI: crashes, garbage, odd exits, hangs past
// the deadline, and no CLI at all. After each one the gateway must still serve.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaudeCliProvider } from '../../providers/claude-cli/index.js';
import { type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { completion, fetchJson, isAlive, killQuietly, processesMatching, readPidFile, waitFor, waitForStatus } from '../support/process-helpers.js';

const post = (gw: TestGateway, body: unknown) => fetchJson(`${gw.url}/v1/chat/completions`, { body });

/** A normal request still works. */
async function stillServes(gw: TestGateway): Promise<void> {
  const ok = await gw.openai.chat.completions.create(completion('are you fine?') as any);
  expect(ok.choices[0]!.message.content).toBe('fake answer');
}

const OPENAI_ERROR = { message: expect.any(String), type: expect.any(String), param: null, code: expect.any(String) };

/** Every fault, with the process pool (the default) and with one `claude -p` per request. */
const MODES: { mode: string; env: Record<string, string> }[] = [
  { mode: 'pooled', env: {} },
  { mode: 'one-shot', env: { POOL_SIZE: '0' } },
];

describe.each(MODES)('CLI faults (fake CLI, $mode)', ({ env }) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('a crash mid-stream ends the stream with an error event and a failed record', async () => {
    const { data: stream, response } = await gw.openai.chat.completions
      .create({ model: 'sonnet', messages: [{ role: 'user', content: 'FAKE_CRASH please' }], stream: true })
      .withResponse();
    const processId = response.headers.get('x-process-id')!;
    let content = '';
    let caught: unknown;
    try {
      for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    } catch (err) {
      caught = err;
    }
    expect(content).toBe('partial answer'); // what the CLI wrote before it died did arrive
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    expect((caught as InstanceType<typeof OpenAI.APIError>).error).toEqual({ ...OPENAI_ERROR, type: 'api_error', code: 'bad_cli_output' });
    expect((caught as Error).message).toMatch(/exited with code 1/);

    const record = (await fetchJson(`${gw.url}/v1/processes/${processId}`)).body;
    expect(record.status).toBe('failed');
    expect(record.error).toMatchObject({ code: 'bad_cli_output' });
    await stillServes(gw);
  });

  it('the raw stream ends with the error event and no [DONE]', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(completion('FAKE_CRASH again', { stream: true })),
    });
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events).not.toContain('data: [DONE]');
    const last = JSON.parse(events.at(-1)!.replace(/^data: /, ''));
    expect(last).toEqual({ error: { ...OPENAI_ERROR, type: 'api_error', code: 'bad_cli_output' } });
  });

  it('a crash (non-streaming) is a 502 that quotes what the CLI printed', async () => {
    const r = await post(gw, completion('FAKE_CRASH quietly'));
    expect(r.status).toBe(502);
    expect(r.body.error).toEqual({ ...OPENAI_ERROR, type: 'api_error' });
    expect(r.body.error.message).toMatch(/exited with code 1 without a usable result \((stdout|stderr): .+\)/);
    await stillServes(gw);
  });

  it('garbage on stdout is a 502 whose message quotes the raw output', async () => {
    const r = await post(gw, completion('FAKE_GARBAGE out'));
    expect(r.status).toBe(502);
    expect(r.body.error).toEqual({ ...OPENAI_ERROR, type: 'api_error' });
    expect(r.body.error.message).toContain('this is not json <html>oops</html>');
    const record = (await fetchJson(`${gw.url}/v1/processes/${r.headers.get('x-process-id')}`)).body;
    expect(record.status).toBe('failed');
    expect(record.error).toEqual(r.body.error);
    await stillServes(gw);
  });

  it('exit 143 (killed by SIGTERM from outside) is a 502', async () => {
    const r = await post(gw, completion('FAKE_EXIT143 now'));
    expect(r.status).toBe(502);
    expect(r.body.error).toEqual({ ...OPENAI_ERROR, type: 'api_error' });
    expect(r.body.error.message).toMatch(/143/);
    await stillServes(gw);
  });
});

describe.each(MODES)('deadline (REQUEST_TIMEOUT_MS 1000, $mode)', ({ env }) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { ...env, REQUEST_TIMEOUT_MS: '1000' } });
    mkdirSync(gw.home, { recursive: true }); // where the fake CLI writes its pid files
  });
  afterAll(async () => {
    killQuietly(readPidFile(path.join(gw.home, 'fake-claude.pid')), true);
    killQuietly(readPidFile(path.join(gw.home, 'fake-claude-grandchild.pid')));
    await gw?.close();
  });

  it('a hanging CLI is a 504 and its whole process group is killed', async () => {
    rmSync(path.join(gw.home, 'fake-claude-grandchild.pid'), { force: true });
    const started = Date.now();
    const r = await post(gw, completion('FAKE_HANG forever'));
    const took = Date.now() - started;
    expect(r.status).toBe(504);
    expect(r.body.error).toEqual({ ...OPENAI_ERROR, type: 'timeout_error', code: 'deadline_exceeded' });
    expect(r.body.error.message).toMatch(/1000 ms/);
    // deadline 1 s; the fake ignores SIGTERM, so SIGKILL follows after KILL_GRACE_MS (500 ms)
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5_000);

    const fake = readPidFile(path.join(gw.home, 'fake-claude.pid'));
    const grandchild = readPidFile(path.join(gw.home, 'fake-claude-grandchild.pid'));
    expect(fake).toBeDefined();
    expect(grandchild).toBeDefined();
    await waitFor(() => !isAlive(fake!) && !isAlive(grandchild!), { timeoutMs: 2_000, what: 'the fake CLI and its grandchild to die' });
    // What is left of this gateway's CLIs are the pool's idle processes (none without the pool).
    const pool = (gw.provider as ClaudeCliProvider).stats();
    expect(processesMatching(gw.dir)).toHaveLength(pool ? pool.total - pool.busy : 0);

    const record = await waitForStatus(gw.url, r.headers.get('x-process-id')!, ['failed']);
    expect(record.error).toMatchObject({ code: 'deadline_exceeded' });
    await stillServes(gw);
  });
});

describe('missing CLI', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { CLAUDE_BIN: '/nonexistent/dir/claude' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('completions answer 503 "claude executable not found" and /ready is 503', async () => {
    const r = await post(gw, completion('hello?'));
    expect(r.status).toBe(503);
    expect(r.body.error).toEqual({ ...OPENAI_ERROR, type: 'api_error', code: 'claude_not_found' });
    expect(r.body.error.message).toMatch(/^claude executable not found/);
    // the readiness check runs before anything is queued: no process is left failed behind
    expect(r.headers.get('x-process-id')).toBeNull();

    // streamed: the same check runs before the stream starts, so this too is a plain 503
    const streamed = await post(gw, completion('hello?', { stream: true }));
    expect(streamed.status).toBe(503);
    expect(streamed.body.error).toMatchObject({ code: 'claude_not_found', message: expect.stringMatching(/^claude executable not found/) });

    const sdkErr = await gw.openai.chat.completions.create(completion('sdk hello?') as any).catch((e: unknown) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.APIError);
    expect((sdkErr as InstanceType<typeof OpenAI.APIError>).status).toBe(503);

    const ready = await fetchJson(`${gw.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.error.message).toMatch(/^claude executable not found/);

    // the gateway itself is alive and answers what does not need the CLI
    expect((await fetchJson(`${gw.url}/health`)).status).toBe(200);
    const models = await gw.openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
  });
});

describe('a broken CLI', () => {
  let gw: TestGateway;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir('broken-cli-');
    const bin = path.join(dir, 'claude');
    writeFileSync(bin, '#!/bin/sh\necho "libfoo.so: cannot open shared object file" >&2\nexit 127\n', { mode: 0o755 });
    gw = await startGateway({ env: { CLAUDE_BIN: bin, POOL_SIZE: '0' } });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes /ready and completions, streamed or not, a 503 claude_unusable with the reason', async () => {
    const ready = await fetchJson(`${gw.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.error).toMatchObject({ code: 'claude_unusable', message: expect.stringContaining('cannot open shared object file') });
    for (const stream of [false, true]) {
      const r = await post(gw, completion('hello?', { stream }));
      expect(r.status).toBe(503);
      expect(r.body.error).toEqual(ready.body.error);
    }
  });
});
