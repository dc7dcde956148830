// Storage faults against the real gateway: file permissions under any umask, read-only and full
// file systems (real tmpfs mounts: these tests need root, and skip themselves without it), corrupt
// lines at start, and system-prompt temp files on every path.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  statfsSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toCompletionJob } from '../../src/openai/request.js';
import { ANONYMOUS } from '../../src/core/ownership.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir, waitForWarmPool } from '../support/gateway.js';
import { completion, fetchJson, waitFor, waitForStatus } from '../support/process-helpers.js';
import { type SpawnedGateway, runGatewayToExit, spawnGateway } from '../support/spawn-gateway.js';

let spawned: SpawnedGateway | undefined;
let gw: TestGateway | undefined;
const mounts: string[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await spawned?.stop('SIGKILL');
  await gw?.close();
  spawned = undefined;
  gw = undefined;
  for (const m of mounts.splice(0).reverse()) execFileSync('umount', [m]);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = tempDir('gw-storage-');
  dirs.push(d);
  return d;
}

function mount(target: string, options: string): void {
  mkdirSync(target, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target], { stdio: 'pipe' });
  mounts.push(target);
}

/** Whether this machine lets the tests mount a tmpfs (root, or CAP_SYS_ADMIN). */
const canMount = (() => {
  const d = tempDir('gw-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'pipe' });
    execFileSync('umount', [d]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
})();
if (!canMount) console.warn('storage.test.ts: `mount -t tmpfs` is not permitted here (not root): the full and read-only file system tests are SKIPPED');
const onTmpfs = it.skipIf(!canMount);

/** Appends until the file system is full, to the last byte (`byte`: newlines pad a JSONL file harmlessly). */
function fillUp(file: string, byte = 0x2e): void {
  const fd = openSync(file, 'a');
  try {
    for (const size of [256 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size, byte);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every JSONL file below `dir` holds whole lines only: each ends with a newline and parses. */
function expectWholeLines(dir: string): void {
  for (const file of filesUnder(dir).filter((f) => f.endsWith('.jsonl'))) {
    const text = readFileSync(file, 'utf8');
    if (!text) continue;
    expect(text.endsWith('\n'), `${file} ends with an unterminated line`).toBe(true);
    for (const line of text.split('\n').filter(Boolean)) {
      expect(() => JSON.parse(line), `a torn line in ${file}: ${line.slice(0, 80)}`).not.toThrow();
    }
  }
}

const mode = (p: string) => statSync(p).mode & 0o777;
const withSystem = (system: string, user: string) => ({
  model: 'sonnet',
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ],
});

describe('files on disk are owner-only', () => {
  it('under umask 0: directories 0700, files 0600, older 0644 files tightened at start, no temp file left', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data');
    const workspace = path.join(dir, 'workspace');
    // What an older version left: world-readable directories and files, and a stale system prompt.
    mkdirSync(path.join(data, 'claude_logs'), { recursive: true });
    mkdirSync(path.join(data, 'tmp'));
    for (const d of [data, path.join(data, 'claude_logs'), path.join(data, 'tmp')]) chmodSync(d, 0o755);
    writeFileSync(path.join(data, 'sessions.jsonl'), '');
    const oldLog = path.join(data, 'claude_logs', `${randomUUID()}.jsonl`);
    writeFileSync(oldLog, '{"type":"request"}\n');
    writeFileSync(path.join(data, 'tmp', `system-${randomUUID()}.txt`), 'the system prompt of a gateway that was killed');
    for (const f of filesUnder(data)) chmodSync(f, 0o644);

    spawned = await spawnGateway({
      DATA_DIR: data,
      CLAUDE_WORKDIR: workspace,
      CLAUDE_BIN: FAKE_CLAUDE,
      NODE_OPTIONS: '--import=data:text/javascript,process.umask(0)',
    });
    // The workspace keeps the user's umask, which proves the gateway ran under umask 0.
    expect(mode(workspace)).toBe(0o777);
    expect(readdirSync(path.join(data, 'tmp'))).toEqual([]); // the stale prompt was swept

    // A system prompt file while its CLI runs, created under umask 0.
    const started = await fetchJson(`${spawned.url}/v1/chat/completions`, {
      body: { ...withSystem('be brief', 'FAKE_SLOW_STREAM'), background: true },
    });
    expect(started.status).toBe(202);
    const prompts = await waitFor(() => {
      const names = readdirSync(path.join(data, 'tmp'));
      return names.length ? names : undefined;
    });
    expect(prompts.map((n) => mode(path.join(data, 'tmp', n)))).toEqual([0o600]);
    await waitForStatus(spawned.url, started.body.id, ['completed']);
    expect((await fetchJson(`${spawned.url}/v1/chat/completions`, { body: completion('hi') })).status).toBe(200);
    expect(await spawned.stop('SIGTERM')).toBe(0);
    spawned = undefined;

    for (const d of [data, path.join(data, 'claude_logs'), path.join(data, 'tmp'), path.join(data, 'claude')]) {
      expect([d, mode(d)]).toEqual([d, 0o700]);
    }
    const files = filesUnder(data);
    expect(files.map((f) => path.relative(data, f))).toEqual(
      expect.arrayContaining(['processes.jsonl', 'events.jsonl', 'sessions.jsonl', path.relative(data, oldLog)]),
    );
    expect(files.filter((f) => f.includes(`${path.sep}claude_logs${path.sep}`)).length).toBe(3);
    for (const f of files) expect([f, mode(f)]).toEqual([f, 0o600]);
    expect(readdirSync(path.join(data, 'tmp'))).toEqual([]);
  });
});

describe('system prompt temp files', () => {
  it('one-shot runs remove theirs whether answered, failed or cancelled', async () => {
    gw = await startGateway({ fake: true, env: { POOL_SIZE: '0', KILL_GRACE_MS: '200' } });
    const tmp = gw.config.tmpDir;
    expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: withSystem('be brief', 'hi') })).status).toBe(200);
    expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: withSystem('be brief', 'FAKE_CRASH') })).status).toBe(502);
    const hung = await fetchJson(`${gw.url}/v1/chat/completions`, { body: { ...withSystem('be brief', 'FAKE_HANG'), background: true } });
    await waitFor(() => readdirSync(tmp).length === 1, { what: 'the hung run to have its prompt file' });
    expect((await fetchJson(`${gw.url}/v1/processes/${hung.body.id}`, { method: 'DELETE' })).body.status).toBe('cancelled');
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a CLI that cannot be started leaves none', async () => {
    const dir = scratch();
    gw = await startGateway({ fake: true, dir, env: { POOL_SIZE: '0', CLAUDE_BIN: path.join(dir, 'no-such-claude') } });
    const res = await fetchJson(`${gw.url}/v1/chat/completions`, { body: withSystem('be brief', 'hi') });
    expect(res.status).toBe(503);
    expect(readdirSync(gw.config.tmpDir)).toEqual([]);
  });

  it('pooled processes still alive at shutdown have theirs removed', async () => {
    const dir = scratch();
    gw = await startGateway({ fake: true, dir });
    await waitForWarmPool(gw);
    expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: withSystem('be brief', 'hi') })).status).toBe(200);
    // The session's process stays hot, with its prompt file, until the gateway stops.
    expect(readdirSync(gw.config.tmpDir)).toHaveLength(1);
    const tmp = gw.config.tmpDir;
    await gw.close();
    gw = undefined;
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('corrupt lines at start', () => {
  it('are kept in a side file and reported in one warning per file', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data');
    gw = await startGateway({ fake: true, dir });
    const ok = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('hi') });
    expect(ok.status).toBe(200);
    await gw.close();
    gw = undefined;
    // A torn line glued to a whole one, a line its schema rejects, and a torn last line.
    const processes = path.join(data, 'processes.jsonl');
    const bad = ['{"id":"proc_torn","obj{"id":"proc_glued"}', '{"id":"not a record"}', '{"id":"proc_last","st'];
    appendFileSync(processes, `${bad[0]}\n${bad[1]}\n${bad[2]}`);
    appendFileSync(path.join(data, 'events.jsonl'), 'garbage\n');

    const env = { DATA_DIR: data, CLAUDE_WORKDIR: path.join(dir, 'workspace'), CLAUDE_BIN: FAKE_CLAUDE };
    spawned = await spawnGateway(env);
    expect((await fetchJson(`${spawned.url}/v1/processes/${ok.body.process_id}`)).body.status).toBe('completed');
    const warnings = () =>
      spawned!
        .output()
        .split('\n')
        .filter((l) => l.includes('unreadable line'))
        .map((l) => JSON.parse(l));
    expect(warnings()).toHaveLength(2);
    const [p, e] = [processes, path.join(data, 'events.jsonl')].map((f) => warnings().find((w) => w.file === f));
    expect(p).toMatchObject({ level: 40, skipped: 3 });
    expect(p.msg).toBe(`skipped 3 unreadable line(s) of ${processes}; they are kept in ${p.copy}`);
    expect(readFileSync(p.copy, 'utf8')).toBe(`${bad.join('\n')}\n`);
    expect(mode(p.copy)).toBe(0o600);
    expect(e).toMatchObject({ level: 40, skipped: 1 });
    expect(readFileSync(e.copy, 'utf8')).toBe('garbage\n');
    expect(await spawned.stop('SIGTERM')).toBe(0);

    // Set aside once: the next start has nothing to report.
    spawned = await spawnGateway(env);
    expect(warnings()).toEqual([]);
  });
});

describe('read-only directories', () => {
  onTmpfs('refuse the start with one line naming the directory and EROFS', async () => {
    const dir = scratch();
    const ro = path.join(dir, 'ro');
    mount(ro, 'ro,size=64k');
    const base = { CLAUDE_WORKDIR: path.join(dir, 'workspace'), CLAUDE_BIN: FAKE_CLAUDE };
    const cases: [Record<string, string>, string][] = [
      [{ DATA_DIR: ro }, `DATA_DIR ${ro} is not writable: EROFS (read-only file system)`],
      [{ DATA_DIR: path.join(ro, 'data') }, `DATA_DIR ${path.join(ro, 'data')} could not be created: EROFS (read-only file system)`],
      [{ DATA_DIR: path.join(dir, 'data'), LOG_DIR: ro }, `LOG_DIR ${ro} is not writable: EROFS (read-only file system)`],
    ];
    for (const [env, message] of cases) {
      const { code, output } = await runGatewayToExit({ ...base, ...env });
      expect(code).toBe(1);
      expect(output).toBe(`claude-cli-gateway: ${message}\n`);
    }
  });

  onTmpfs('a log line that cannot be written fails the request with 503 storage_unavailable, and is logged', async () => {
    const dir = scratch();
    const logs = path.join(dir, 'logs');
    mount(logs, 'size=1m');
    spawned = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), LOG_DIR: logs, CLAUDE_WORKDIR: path.join(dir, 'workspace'), CLAUDE_BIN: FAKE_CLAUDE });
    execFileSync('mount', ['-o', 'remount,ro', logs]);
    const message = 'could not write the session log: EROFS (read-only file system)';
    for (const body of [completion('hi'), completion('hi', { background: true }), completion('hi', { stream: true })]) {
      const res = await fetchJson(`${spawned.url}/v1/chat/completions`, { body });
      expect(res.status).toBe(503);
      expect(res.body.error).toEqual({ message, type: 'api_error', param: null, code: 'storage_unavailable' });
    }
    await waitFor(() => spawned!.output().includes(message), { what: 'the failure in the log' });
    // Nothing was recorded as running or done.
    expect((await fetchJson(`${spawned.url}/v1/processes`)).body.data).toEqual([]);
  });
});

describe('a full disk', () => {
  onTmpfs('fails requests with 507 storage_full, never tears a line, and keeps every 2xx-answered process', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data');
    mount(data, 'size=2m');
    gw = await startGateway({ fake: true, dir });
    const free = () => {
      const s = statfsSync(data);
      return s.bavail * s.bsize;
    };
    writeFileSync(path.join(data, 'filler'), Buffer.alloc(free() - 160 * 1024));

    const answered: { id: string; session: string }[] = [];
    const failed: { status: number; body: any; id: string | null }[] = [];
    for (let i = 0; i < 60 && failed.length < 6; i++) {
      const user = `question ${i} ${'x'.repeat(6000)}`;
      const body = i % 2 ? withSystem(`be brief ${i} `.repeat(300), user) : completion(user);
      const res = await fetchJson(`${gw.url}/v1/chat/completions`, { body });
      if (res.status === 200) answered.push({ id: res.headers.get('x-process-id')!, session: res.headers.get('x-session-id')! });
      else failed.push({ status: res.status, body: res.body, id: res.headers.get('x-process-id') });
    }
    expect(answered.length).toBeGreaterThanOrEqual(3);
    expect(failed).toHaveLength(6);
    for (const f of failed) {
      expect(f.status).toBe(507);
      expect(f.body.error).toMatchObject({ type: 'api_error', code: 'storage_full' });
      expect(f.body.error.message).toMatch(/^could not write the (process record|event log|session log|session index|system prompt file for the CLI): ENOSPC \(no space left on device\)$/);
    }
    expectWholeLines(data);
    const tmp = gw.config.tmpDir;
    await gw.close();
    gw = undefined;
    expect(readdirSync(tmp)).toEqual([]); // hot processes' prompts went with them

    // A start on a full disk is refused, and one whose compaction runs out of space leaves no temp file.
    const env = { DATA_DIR: data, CLAUDE_WORKDIR: path.join(dir, 'workspace'), CLAUDE_BIN: FAKE_CLAUDE };
    fillUp(path.join(data, 'filler2'));
    let refused = await runGatewayToExit(env);
    expect(refused).toEqual({ code: 1, output: `claude-cli-gateway: DATA_DIR ${data} is not writable: ENOSPC (no space left on device)\n` });
    const filler2 = path.join(data, 'filler2');
    truncateSync(filler2, (Math.floor(statSync(filler2).size / 4096) - 1) * 4096); // one page free
    expect(statSync(path.join(data, 'processes.jsonl')).size).toBeGreaterThan(3 * 4096);
    refused = await runGatewayToExit(env);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/^claude-cli-gateway: could not compact \S+: ENOSPC \(no space left on device\)\n$/);
    expect(readdirSync(data).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    // With room again: every answered process is there, whole, with its session log; no line was unreadable.
    rmSync(path.join(data, 'filler'));
    rmSync(filler2);
    gw = await startGateway({ fake: true, dir });
    for (const { id, session } of answered) {
      const record = (await fetchJson(`${gw.url}/v1/processes/${id}`)).body;
      expect(record).toMatchObject({ id, status: 'completed' });
      const log = readFileSync(path.join(gw.config.logDir, `${session}.jsonl`), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(log.filter((l) => l.process_id === id).map((l) => l.type)).toEqual(['request', 'response']);
    }
    for (const { id } of failed) {
      if (!id) continue; // failed before it was recorded at all
      const res = await fetchJson(`${gw.url}/v1/processes/${id}`);
      expect([res.status, res.body.status]).not.toEqual([200, 'completed']);
      if (res.status === 200) expect(res.body.status).toBe('failed');
    }
    expect(readdirSync(data).filter((n) => n.includes('.corrupt-'))).toEqual([]);
    expectWholeLines(data);
  });

  onTmpfs('a run whose answer cannot be recorded answers 507 instead of 200, and its record ends failed', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data');
    mount(data, 'size=2m');
    gw = await startGateway({ fake: true, dir });
    const pending = fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('FAKE_SLOW_STREAM') });
    const running = await waitFor(async () => (await fetchJson(`${gw!.url}/v1/processes?status=running`)).body.data[0]);
    fillUp(path.join(data, 'filler'));
    // The last pages of the gateway's own files too (with blank lines, which readers skip).
    for (const f of filesUnder(data).filter((n) => n.endsWith('.jsonl'))) fillUp(f, 0x0a);
    const res = await pending;
    expect(res.status).toBe(507);
    expect(res.body.error.code).toBe('storage_full');
    expect((await fetchJson(`${gw.url}/v1/processes/${running.id}`)).body).toMatchObject({
      status: 'failed',
      result: null,
      error: { code: 'storage_full' },
    });
    expectWholeLines(data);

    // With room again the same gateway goes on (its files reopened and whole), and a restart agrees.
    rmSync(path.join(data, 'filler'));
    expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('hi') })).status).toBe(200);
    await gw.close();
    gw = await startGateway({ fake: true, dir });
    expect((await fetchJson(`${gw.url}/v1/processes/${running.id}`)).body.status).toBe('failed');
    expectWholeLines(data);
  });

  for (const [name, env] of [
    ['one-shot', { POOL_SIZE: '0' }],
    ['pooled', {}],
  ] as const) {
    onTmpfs(`${name}: a system prompt file that cannot be written is a 507 naming the cause, and leaves nothing`, async () => {
      gw = await startGateway({ fake: true, env, dir: scratch() });
      if (name === 'pooled') await waitForWarmPool(gw);
      const tmp = gw.config.tmpDir;
      mount(tmp, 'size=64k');
      fillUp(path.join(tmp, 'filler'));
      const res = await fetchJson(`${gw.url}/v1/chat/completions`, { body: withSystem('be brief', 'hi') });
      expect(res.status).toBe(507);
      expect(res.body.error).toEqual({
        message: 'could not write the system prompt file for the CLI: ENOSPC (no space left on device)',
        type: 'api_error',
        param: null,
        code: 'storage_full',
      });
      expect(readdirSync(tmp)).toEqual(['filler']);
      expect((await fetchJson(`${gw.url}/v1/processes/${res.headers.get('x-process-id')}`)).body).toMatchObject({
        status: 'failed',
        error: { code: 'storage_full' },
      });
      expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('hi') })).status).toBe(200);
    });
  }
});

describe('a log line that cannot be serialized', () => {
  it('fails the process with a 500 naming the cause instead of being dropped', async () => {
    gw = await startGateway({ fake: true });
    const { app, config } = gw;
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const job = toCompletionJob({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } as never, {
      resolveModel: (name) => app.gateway.resolveModel(name),
    });
    job.messages = [{ role: 'user', content: 'hi', deep }];
    const submitted = app.gateway.submit(job, { principal: ANONYMOUS });
    await expect(submitted).rejects.toMatchObject({ status: 500, code: 'storage_error' });
    await expect(submitted).rejects.toThrow(/^could not write the session log: RangeError: Maximum call stack size exceeded$/);
    // Not recorded, not run; its session log has the failure.
    expect((await app.gateway.list({ limit: 10 }, ANONYMOUS)).data).toEqual([]);
    expect(readdirSync(config.logDir)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}\.jsonl$/)]);
    // The gateway goes on.
    expect((await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('hi') })).status).toBe(200);
    expectWholeLines(config.dataDir);
  });
});
