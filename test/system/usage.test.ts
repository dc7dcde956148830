// GET /v1/usage with the fake CLI (3 prompt and 2 completion tokens a turn): sums equal to the
// completions made, grouping, from/to, ownership with two keys and an admin, and the ledger across
// a restart (seeded with entries of past days, so days and windows are known exactly).
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { apiClient, bearer, sleep } from '../support/process-helpers.js';

const as = bearer;

/** The shared client, plus the rows of a usage query that must succeed. */
function client(gw: () => TestGateway, headers: Record<string, string> = {}) {
  const c = apiClient(gw, headers);
  return {
    ...c,
    usage: async (query = '') => {
      const res = await c.get(`/v1/usage${query && `?${query}`}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data as any[];
    },
  };
}

const today = () => new Date().toISOString().slice(0, 10);
const DAY1 = Date.UTC(2024, 0, 1, 12) / 1000;
const DAY2 = Date.UTC(2024, 0, 2, 12) / 1000;
const seeded = (id: string, finished_at: number, model: string, cost_usd: number | null) => ({
  process_id: id,
  finished_at,
  key_id: null,
  model,
  prompt_tokens: 10,
  completion_tokens: 5,
  cached_tokens: 4,
  cost_usd,
});

describe('usage with the fake CLI', () => {
  let gw: TestGateway;
  const c = client(() => gw);
  beforeAll(async () => {
    gw = await startGateway({ fake: true });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('sums the completions made, in total and by model and day', async () => {
    expect(await c.usage()).toEqual([{ requests: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_usd: null }]);
    const ids: string[] = [];
    for (const model of ['sonnet', 'sonnet', 'claude-cli/haiku']) {
      const res = await c.chat(`usage for ${model}`, { model });
      expect(res.status).toBe(200);
      expect(res.body.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2 });
      ids.push(res.body.process_id);
    }
    const costs = await Promise.all(ids.map(async (id) => (await c.get(`/v1/processes/${id}`)).body.cost_usd as number));
    const [total] = await c.usage();
    expect(total).toMatchObject({ requests: 3, prompt_tokens: 9, completion_tokens: 6, cached_tokens: 0 });
    expect(total.cost_usd).toBeCloseTo(costs.reduce((a, b) => a + b, 0), 10);
    expect(Object.keys(total)).not.toContain('model');

    const byModel = await c.usage('group_by=model');
    expect(byModel.map(({ cost_usd: _, ...r }) => r)).toEqual([
      { model: 'claude-cli/haiku', requests: 1, prompt_tokens: 3, completion_tokens: 2, cached_tokens: 0 },
      { model: 'sonnet', requests: 2, prompt_tokens: 6, completion_tokens: 4, cached_tokens: 0 },
    ]);
    expect(await c.usage('group_by=day,key')).toMatchObject([{ day: today(), key_id: null, requests: 3 }]);
    const all = await c.usage('group_by=key,model,day');
    expect(all).toHaveLength(2);
    for (const row of all) expect(Object.keys(row).slice(0, 3).sort()).toEqual(['day', 'key_id', 'model']);
  });

  it('filters on the finish time', async () => {
    // From the next whole second: the earlier completions all finished before it.
    const before = Math.ceil(Date.now() / 1000);
    await sleep(before * 1000 - Date.now() + 5);
    expect((await c.chat('in the window')).status).toBe(200);
    expect(await c.usage(`from=${before}`)).toMatchObject([{ requests: 1, prompt_tokens: 3 }]);
    expect(await c.usage(`from=${before + 3600}`)).toMatchObject([{ requests: 0, cost_usd: null }]);
    expect(await c.usage(`to=${before}&group_by=model`)).toHaveLength(2);
    expect(await c.usage(`from=${before}&to=${before}`)).toMatchObject([{ requests: 0 }]);
  });

  it('answers 400 to a bad query', async () => {
    for (const bad of ['group_by=week', 'group_by=', 'group_by=key,', 'from=-1', 'from=1.5', 'to=', 'from=abc', 'key_id=']) {
      const res = await c.get(`/v1/usage?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
  });
});

describe('usage with two keys and an admin key', () => {
  let gw: TestGateway;
  const alice = client(() => gw, as('ka'));
  const other = client(() => gw, as('kb'));
  const root = client(() => gw, as('adm'));
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { GATEWAY_API_KEYS: 'alice:ka,kb', GATEWAY_ADMIN_KEYS: 'root:adm' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('shows a key its own usage, an admin all, by key', async () => {
    expect((await alice.chat('alice 1')).status).toBe(200);
    expect((await alice.chat('alice 2')).status).toBe(200);
    const theirs = await other.chat('the other key');
    expect(theirs.status).toBe(200);
    const otherId = (await other.get(`/v1/processes/${theirs.body.process_id}`)).body.key_id as string;
    expect(otherId).toMatch(/./);

    expect(await alice.usage('group_by=key')).toMatchObject([{ key_id: 'alice', requests: 2, prompt_tokens: 6, completion_tokens: 4 }]);
    expect(await other.usage('group_by=key')).toMatchObject([{ key_id: otherId, requests: 1 }]);
    expect(await root.usage()).toMatchObject([{ requests: 3, prompt_tokens: 9 }]);
    const byKey = await root.usage('group_by=key');
    expect(byKey.map((r) => [r.key_id, r.requests]).sort()).toEqual([['alice', 2], [otherId, 1]].sort());
    expect(await root.usage(`key_id=${otherId}&group_by=key`)).toMatchObject([{ key_id: otherId, requests: 1 }]);
    // Another key's usage is as absent as its processes: nothing, not a 403.
    expect(await alice.usage(`key_id=${otherId}&group_by=key`)).toEqual([]);
    expect(await alice.usage(`key_id=${otherId}`)).toMatchObject([{ requests: 0 }]);
    expect(await alice.usage('key_id=alice')).toMatchObject([{ requests: 2 }]);
  });
});

describe('the usage ledger', () => {
  it('survives a restart, beyond process retention, and keeps days and windows', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const lines = [seeded('proc_a', DAY1, 'sonnet', 0.5), seeded('proc_b', DAY2, 'sonnet', null), seeded('proc_c', DAY2, 'opus', 0.25)];
    writeFileSync(path.join(data, 'usage.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
    const env = { PROCESS_RETENTION: '1' };
    let g = await startGateway({ fake: true, dir, env });
    const r = client(() => g);
    try {
      expect((await r.chat('before the restart')).status).toBe(200);
      expect((await r.chat('also before')).status).toBe(200);
      await g.close();
      g = await startGateway({ fake: true, dir, env });
      expect(statSync(path.join(data, 'usage.jsonl')).mode & 0o777).toBe(0o600);

      const byDay = await r.usage('group_by=day');
      expect(byDay.map(({ cost_usd: _, ...row }) => row)).toEqual([
        { day: '2024-01-01', requests: 1, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4 },
        { day: '2024-01-02', requests: 2, prompt_tokens: 20, completion_tokens: 10, cached_tokens: 8 },
        { day: today(), requests: 2, prompt_tokens: 6, completion_tokens: 4, cached_tokens: 0 },
      ]);
      // A mix of known and unknown costs sums the known ones.
      expect(byDay[0].cost_usd).toBe(0.5);
      expect(byDay[1].cost_usd).toBe(0.25);
      expect(await r.usage(`group_by=day,model&from=${DAY2 - 3600}&to=${DAY2 + 3600}`)).toEqual([
        { model: 'opus', day: '2024-01-02', requests: 1, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4, cost_usd: 0.25 },
        { model: 'sonnet', day: '2024-01-02', requests: 1, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4, cost_usd: null },
      ]);
      expect(await r.usage(`from=${DAY1}&to=${DAY2}`)).toMatchObject([{ requests: 1, cost_usd: 0.5 }]);
    } finally {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
