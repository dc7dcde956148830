// The Unix-socket front door (SOCKET_PATH) of a real gateway process running the fake CLI, spoken to
// with node:net, and with the shell tools the README shows when this machine has them.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, tempDir } from '../support/gateway.js';
import { waitFor } from '../support/process-helpers.js';
import { type SpawnedGateway, spawnGateway } from '../support/spawn-gateway.js';

/** A client of the socket: replies and events kept apart, each in arrival order. */
class Client {
  private readonly replies: any[] = [];
  private readonly events: any[] = [];
  private buffer = '';
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const msg = JSON.parse(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
        (msg.type === 'event' ? this.events : this.replies).push(msg);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(file: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect(file);
      socket.once('connect', () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }

  send(line: string): void {
    this.socket.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  async request(command: string, parameters?: object, extra: object = {}): Promise<any> {
    this.send(JSON.stringify({ command, ...(parameters ? { parameters } : {}), version: '2.0', ...extra }));
    return this.reply();
  }

  reply(timeoutMs = 15_000): Promise<any> {
    return this.take(this.replies, timeoutMs);
  }

  event(timeoutMs = 15_000): Promise<any> {
    return this.take(this.events, timeoutMs);
  }

  /** The next event of one process, skipping those of others. */
  async eventOf(processId: string): Promise<any> {
    for (;;) {
      const e = await this.event();
      if (e.payload.process_id === processId) return e;
    }
  }

  /** Waits until the server has closed the connection. */
  async ended(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the connection stayed open');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
  }

  private async take(queue: any[], timeoutMs: number): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (!queue.length) {
      if (this.closed) throw new Error('the connection closed');
      if (Date.now() > deadline) throw new Error('no message in time');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    return queue.shift();
  }

  close(): void {
    this.socket.destroy();
  }

  /** Ends the sending side only, as `nc -N`, ncat and socat do at the end of their input. */
  halfClose(): void {
    this.socket.end();
  }
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PROCESS_ID = /^proc_[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function gatewayEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: path.join(dir, 'data'),
    CLAUDE_WORKDIR: path.join(dir, 'workspace'),
    CLAUDE_BIN: FAKE_CLAUDE,
    POOL_SIZE: '0',
    KILL_GRACE_MS: '300',
    SHUTDOWN_GRACE_MS: '300',
    SOCKET_PATH: path.join(dir, 'gw.sock'),
    ...extra,
  };
}

async function waitForSocket(gw: SpawnedGateway): Promise<void> {
  await waitFor(() => /unix socket listening/.test(gw.output()), { timeoutMs: 10_000, what: 'the unix socket' });
}

/** The help of `cmd` when it exists and mentions `flag` (any case); else undefined. */
function helpWith(cmd: string, flag: string): string | undefined {
  try {
    const help = execFileSync('sh', ['-c', `command -v ${cmd} >/dev/null && ${cmd} -h 2>&1; true`], { encoding: 'utf8', timeout: 5_000 });
    return help.toLowerCase().includes(flag.toLowerCase()) ? help : undefined;
  } catch {
    return undefined;
  }
}
const ncHelp = helpWith('nc', '-U');
const socatHelp = helpWith('socat', 'unix-connect');

/** Runs a shell pipeline, resolving with the first line it prints; the pipeline is killed then (clients keep the connection open). */
function firstLine(script: string, children: ChildProcess[], timeoutMs = 15_000): Promise<string> {
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no output in time: ${err}`)), timeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
  });
}

describe('the Unix socket (SOCKET_PATH)', () => {
  let dir: string;
  let gw: SpawnedGateway;
  let socketPath: string;
  const clients: Client[] = [];
  const children: ChildProcess[] = [];
  const open = async () => {
    const c = await Client.open(socketPath);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = tempDir('gw-sock-');
    socketPath = path.join(dir, 'gw.sock');
    gw = await spawnGateway(gatewayEnv(dir, { BODY_LIMIT_BYTES: '4096' }));
    await waitForSocket(gw);
  }, 30_000);

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const child of children.splice(0)) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  afterAll(async () => {
    try {
      if (gw) {
        expect(await gw.stop('SIGTERM')).toBe(0);
        // removed on shutdown
        expect(existsSync(socketPath)).toBe(false);
      }
    } finally {
      await gw?.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is a socket file only its owner may use (0600)', () => {
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('HEALTH_CHECK: healthy, with the CLI version and the counts', async () => {
    const c = await open();
    const reply = await c.request('HEALTH_CHECK');
    expect(reply).toMatchObject({
      status: 'success',
      command: 'HEALTH_CHECK',
      result: { status: 'healthy', protocol_version: '2.0', claude_version: expect.stringMatching(/^2\.1\.331/), running: expect.any(Number), queued: expect.any(Number) },
    });
    expect(reply.metadata.timestamp).toMatch(TIMESTAMP);
  });

  it("sync SPAWN: the CLI's result object with the process id; GET_PROCESSES lists the process", async () => {
    const c = await open();
    const reply = await c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: 'Hello' });
    expect(reply.status).toBe('success');
    expect(reply.command).toBe('SPAWN');
    const r = reply.result;
    expect(r).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'fake answer' });
    expect(r.session_id).toMatch(UUID);
    expect(r.process_id).toMatch(PROCESS_ID);
    expect(typeof r.total_cost_usd).toBe('number');
    expect(r.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });

    // the session goes on
    const next = await c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: 'again', session_id: r.session_id });
    expect(next.result.session_id).toBe(r.session_id);

    const list = await c.request('GET_PROCESSES');
    expect(list.status).toBe('success');
    const proc = list.result.processes.find((p: any) => p.id === r.process_id);
    expect(proc).toMatchObject({ object: 'process', status: 'completed', session_id: r.session_id, result: { object: 'chat.completion' } });
    expect(proc).not.toHaveProperty('meta');
  });

  it('async SPAWN, and SUBSCRIBE with agent_id receives its PROCESS_COMPLETE', async () => {
    const watcher = await open();
    const subscribed = await watcher.request('SUBSCRIBE', { event_types: ['PROCESS_COMPLETE'], agent_id: 'agent-7' });
    expect(subscribed).toMatchObject({ status: 'success', command: 'SUBSCRIBE' });

    const spawner = await open();
    // another agent's process first: filtered out
    const other = await spawner.request('SPAWN', { mode: 'async', type: 'claude', prompt: 'Hello', agent_id: 'agent-other' });
    expect(other.status).toBe('success');
    const mine = await spawner.request('SPAWN', { mode: 'async', type: 'claude', prompt: 'Hello', agent_id: 'agent-7' });
    expect(mine.result).toEqual({ process_id: expect.stringMatching(PROCESS_ID), status: 'started', type: 'claude', mode: 'async' });

    const event = await watcher.event();
    expect(event).toMatchObject({
      type: 'event',
      event_type: 'PROCESS_COMPLETE',
      payload: { type: 'PROCESS_COMPLETE', process_id: mine.result.process_id, status: 'completed', agent_id: 'agent-7', seq: expect.any(Number) },
    });
    expect(event.payload.result).toMatchObject({ object: 'chat.completion', process_id: mine.result.process_id });

    // every agent's, without the filter
    const all = await open();
    await all.request('SUBSCRIBE', { event_types: ['PROCESS_QUEUED', 'PROCESS_COMPLETE'] });
    const third = await spawner.request('SPAWN', { mode: 'async', type: 'claude', prompt: 'Hello' });
    const queued = await all.eventOf(third.result.process_id);
    expect(queued).toMatchObject({ event_type: 'PROCESS_QUEUED', payload: { process_id: third.result.process_id, agent_id: null } });
    const done = await all.eventOf(third.result.process_id);
    expect(done).toMatchObject({ event_type: 'PROCESS_COMPLETE', payload: { process_id: third.result.process_id, agent_id: null } });
  });

  it('a line that is not JSON: INVALID_JSON, and the connection goes on', async () => {
    const c = await open();
    c.send('{"command": "HEALTH_CHECK"');
    expect(await c.reply()).toMatchObject({ status: 'error', command: null, error: { code: 'INVALID_JSON', timestamp: expect.stringMatching(TIMESTAMP) } });
    expect((await c.request('HEALTH_CHECK')).status).toBe('success');
  });

  it('an unknown command: UNKNOWN_COMMAND, and the connection goes on', async () => {
    const c = await open();
    expect(await c.request('LAUNCH_ROCKET', {})).toMatchObject({ status: 'error', command: 'LAUNCH_ROCKET', error: { code: 'UNKNOWN_COMMAND' } });
    expect((await c.request('GET_PROCESSES')).status).toBe('success');
  });

  it('SPAWN without a prompt: INVALID_PARAMETERS naming it', async () => {
    const c = await open();
    const reply = await c.request('SPAWN', { mode: 'sync', type: 'claude' });
    expect(reply).toMatchObject({ status: 'error', command: 'SPAWN', error: { code: 'INVALID_PARAMETERS' } });
    expect(reply.error.message).toMatch(/prompt/);
  });

  it('an unknown session: SESSION_NOT_FOUND', async () => {
    const c = await open();
    const reply = await c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: 'hi', session_id: '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f' });
    expect(reply).toMatchObject({ status: 'error', error: { code: 'SESSION_NOT_FOUND' } });
  });

  it('a line longer than BODY_LIMIT_BYTES: PAYLOAD_TOO_LARGE, then the connection is closed', async () => {
    const c = await open();
    c.send(JSON.stringify({ command: 'SPAWN', parameters: { mode: 'sync', type: 'claude', prompt: 'x'.repeat(5000) } }));
    expect(await c.reply()).toMatchObject({ status: 'error', error: { code: 'PAYLOAD_TOO_LARGE' } });
    await c.ended();
  });

  it('a client that closes its sending side still gets what it asked, then the connection closes', async () => {
    const c = await open();
    c.send(JSON.stringify({ command: 'SPAWN', parameters: { mode: 'sync', type: 'claude', prompt: 'Hello', agent_id: 'half' } }));
    c.halfClose();
    expect(await c.reply()).toMatchObject({ status: 'success', command: 'SPAWN', result: { result: 'fake answer' } });
    await c.ended();
  });

  it('many connections at once', async () => {
    const many = await Promise.all(Array.from({ length: 8 }, () => open()));
    const replies = await Promise.all(many.map((c, i) => c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: `Hello ${i}` })));
    expect(new Set(replies.map((r) => r.result.process_id)).size).toBe(8);
    for (const r of replies) expect(r.status).toBe('success');
  });

  it.skipIf(!ncHelp)('answers `echo … | nc -U $SOCKET_PATH` (README)', async () => {
    // A half-close (ncat, nc -N) asks nothing more: the answer comes, then the connection closes.
    const keepOpen = '';
    const line = await firstLine(
      `echo '{"command":"SPAWN","parameters":{"mode":"sync","type":"claude","prompt":"Hello"}}' | nc${keepOpen} -U '${socketPath}'`,
      children,
    );
    expect(JSON.parse(line)).toMatchObject({ status: 'success', command: 'SPAWN', result: { type: 'result', result: 'fake answer' } });
  });

  it.skipIf(!socatHelp)('answers a shell client (socat)', async () => {
    // socat half-closes at the end of its input: the answer still comes, then the connection closes.
    const line = await firstLine(
      `echo '{"command":"SPAWN","parameters":{"mode":"sync","type":"claude","prompt":"Hello"}}' | socat -t 30 - 'UNIX-CONNECT:${socketPath}'`,
      children,
    );
    expect(JSON.parse(line)).toMatchObject({ status: 'success', command: 'SPAWN', result: { type: 'result', result: 'fake answer' } });
  });
});

describe('the Unix socket with API keys, over a stale socket file', () => {
  it('replaces the stale file, wants a key (not for HEALTH_CHECK), and removes the file on shutdown', async () => {
    const dir = tempDir('gw-sock-');
    const socketPath = path.join(dir, 'gw.sock');
    let gw: SpawnedGateway | undefined;
    const clients: Client[] = [];
    try {
      // A socket file nobody listens on: its process was killed before it could remove it.
      const stale = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      await new Promise((r) => stale.once('exit', r));
      expect(statSync(socketPath).isSocket()).toBe(true);

      gw = await spawnGateway(gatewayEnv(dir, { GATEWAY_API_KEYS: 'team-a:sk-socket-test' }));
      await waitForSocket(gw);
      expect(statSync(socketPath).mode & 0o777).toBe(0o600);

      const c = await Client.open(socketPath);
      clients.push(c);
      expect(await c.request('GET_PROCESSES')).toMatchObject({ status: 'error', command: 'GET_PROCESSES', error: { code: 'UNAUTHORIZED' } });
      expect(await c.request('GET_PROCESSES', {}, { metadata: { api_key: 'wrong' } })).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      expect(await c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: 'Hello' })).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
      expect((await c.request('HEALTH_CHECK')).status).toBe('success');
      const spawned = await c.request('SPAWN', { mode: 'sync', type: 'claude', prompt: 'Hello', api_key: 'sk-socket-test' });
      expect(spawned.status).toBe('success');
      const list = await c.request('GET_PROCESSES', {}, { metadata: { api_key: 'sk-socket-test' } });
      expect(list.result.processes.map((p: any) => p.id)).toContain(spawned.result.process_id);
      expect(list.result.processes[0].key_id).toBe('team-a');

      // on SIGTERM the connection is closed, the file removed, and the gateway exits 0
      const exit = gw.stop('SIGTERM');
      await c.ended();
      expect(await exit).toBe(0);
      gw = undefined;
      expect(existsSync(socketPath)).toBe(false);
    } finally {
      for (const c of clients) c.close();
      await gw?.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
