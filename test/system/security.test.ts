import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAKE_CLAUDE, tempDir, startGateway } from '../support/gateway.js';
import { type SpawnedGateway, spawnGateway } from '../support/spawn-gateway.js';

let running: SpawnedGateway | undefined;
const dirs: string[] = [];
const newDir = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterEach(async () => {
  await running?.stop('SIGKILL');
  running = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const models = (url: string, key: string) => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

describe('access', () => {
  it('reads keys from GATEWAY_API_KEYS_FILE and reloads them on SIGHUP', async () => {
    const dir = newDir();
    const file = path.join(dir, 'keys');
    writeFileSync(file, '# gateway keys\nkey-alpha\n\n');
    running = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE, GATEWAY_API_KEYS_FILE: file });
    expect((await models(running.url, 'key-alpha')).status).toBe(200);
    expect((await models(running.url, 'key-beta')).status).toBe(401);

    writeFileSync(file, 'key-beta\n');
    running.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    expect((await models(running.url, 'key-beta')).status).toBe(200);
    expect((await models(running.url, 'key-alpha')).status).toBe(401);
    expect(running.output()).toContain('API keys reloaded');
  });

  it('warns loudly when listening beyond 127.0.0.1 without keys', async () => {
    const dir = newDir();
    running = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE, HOST: '127.0.0.2' });
    expect(running.output()).toMatch(/WITHOUT GATEWAY_API_KEYS/);
  });

  it('exits cleanly on SIGTERM', async () => {
    const dir = newDir();
    running = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE });
    expect(await running.stop('SIGTERM')).toBe(0);
  });
});

describe('load shedding', () => {
  it('answers 503 with an OpenAI error while the event loop is saturated', async () => {
    const gw = await startGateway({ fake: true, env: { MAX_EVENT_LOOP_DELAY_MS: '20' } });
    try {
      const end = Date.now() + 1_500;
      while (Date.now() < end) {
        // block the event loop the gateway shares with this test
      }
      const res = await fetch(`${gw.url}/v1/models`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as any).error.code).toBe('gateway_overloaded');
    } finally {
      await gw.close();
    }
  });
});
