import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Provider } from '../../providers/types.js';
import { CLOSE_TOO_SLOW } from '../../routes/events.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { completion, fetchJson, openEvents, waitFor, waitForStatus, wsUrl } from '../support/process-helpers.js';
import { type SpawnedGateway, spawnGateway } from '../support/spawn-gateway.js';

let spawned: SpawnedGateway | undefined;
let gw: TestGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await spawned?.stop('SIGKILL');
  await gw?.close();
  spawned = undefined;
  gw = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function reopen(dir: string) {
  gw = await startGateway({ fake: true, dir });
  return gw;
}

describe('graceful shutdown (SIGTERM)', () => {
  it('lets a running process finish within the grace period, then exits 0', async () => {
    const dir = tempDir();
    dirs.push(dir);
    spawned = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE, SHUTDOWN_GRACE_MS: '5000' });
    const started = await fetchJson(`${spawned.url}/v1/chat/completions`, { body: completion('FAKE_SLOW_STREAM', { background: true }) });
    expect(started.status).toBe(202);
    await waitFor(async () => (await fetchJson(`${spawned!.url}/v1/processes/${started.body.id}`)).body.status === 'running');
    expect(await spawned.stop('SIGTERM')).toBe(0);
    spawned = undefined;
    const after = await reopen(dir);
    const record = (await fetchJson(`${after.url}/v1/processes/${started.body.id}`)).body;
    expect(record.status).toBe('completed');
    expect(record.result.choices[0].message.content).toMatch(/^tok0 tok1/);
    // and a subscriber replaying from the start gets the completion with its result
    const replay = await openEvents(after.url, { since: 0, process_id: started.body.id, types: 'PROCESS_COMPLETE' });
    const complete = await replay.next((e) => e.type === 'PROCESS_COMPLETE');
    expect(complete.result).toEqual(record.result);
    await replay.close();
  });

  it('cancels what is still running after the grace period, recorded as shutting_down', async () => {
    const dir = tempDir();
    dirs.push(dir);
    spawned = await spawnGateway({
      DATA_DIR: path.join(dir, 'data'),
      CLAUDE_BIN: FAKE_CLAUDE,
      SHUTDOWN_GRACE_MS: '300',
      KILL_GRACE_MS: '300',
    });
    const started = await fetchJson(`${spawned.url}/v1/chat/completions`, { body: completion('FAKE_HANG', { background: true }) });
    await waitFor(async () => (await fetchJson(`${spawned!.url}/v1/processes/${started.body.id}`)).body.status === 'running');
    const t0 = Date.now();
    expect(await spawned.stop('SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    spawned = undefined;
    const after = await reopen(dir);
    const record = (await fetchJson(`${after.url}/v1/processes/${started.body.id}`)).body;
    expect(record.status).toBe('cancelled');
    expect(record.error).toMatchObject({ type: 'cancelled', code: 'shutting_down' });
  });
});

/** A provider whose run reports `total` tool results of 1 MiB, one per turn of the event loop, then answers. */
function floodingProvider(total: number): Provider {
  const big = 'x'.repeat(1024 * 1024);
  return {
    name: 'flood',
    capabilities: {},
    models: () => [],
    resolveModel: (requested) => requested,
    prepare: () => undefined,
    hasSession: async () => false,
    check: async () => ({ ok: true }),
    async *run(_prepared, session) {
      for (let i = 0; i < total; i++) {
        yield { type: 'tool_result', toolUseId: `toolu_${i}`, content: big, isError: false };
        await new Promise((r) => setImmediate(r));
      }
      const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0 };
      yield { type: 'result', result: { text: 'flooded', sessionId: session.sessionId, finishReason: 'stop', usage, raw: {} } };
    },
  };
}

describe('slow WebSocket subscribers', () => {
  it('are closed with 4008 instead of buffering without bound, and do not hold up others', async () => {
    const total = 24;
    gw = await startGateway({ provider: floodingProvider(total) });
    const slow = new WebSocket(wsUrl(gw.url));
    await new Promise((r) => slow.once('open', r));
    const closed = new Promise<number>((r) => slow.once('close', (code) => r(code)));
    // Stop reading: the kernel buffers fill, then the gateway-side buffer grows.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    const fast = await openEvents(gw.url, { types: 'PROCESS_TOOL_RESULT' });

    const flood = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion('flood', { background: true }) });
    await waitForStatus(gw.url, flood.body.id, ['completed'], 20_000);
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(CLOSE_TOO_SLOW);
    // 24 MiB of JSON to parse on a loaded machine: allow it time.
    await waitFor(() => fast.events.length === total, { timeoutMs: 20_000, what: 'the fast subscriber to get every event' });
    await fast.close();
  });
});
