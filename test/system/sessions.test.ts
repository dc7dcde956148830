// Sessions as a resource: GET /v1/sessions, GET and DELETE /v1/sessions/:id. The fake CLI for the
// listing, the sums, busy sessions, purges and ownership; the real CLI against the mock upstream for
// what DELETE does to the CLI's own state (its transcript, its hot process).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, tempDir, useMockGateway, waitForWarmPool } from '../support/gateway.js';
import { apiClient, bearer, processesMatching, waitFor, waitForStatus } from '../support/process-helpers.js';

const as = bearer;
const client = apiClient;

/** The sum of the processes' cost_usd when every one has a number, else null: what the session must say. */
async function expectedCost(c: ReturnType<typeof client>, ids: string[]): Promise<number | null> {
  const costs = await Promise.all(ids.map(async (id) => (await c.get(`/v1/processes/${id}`)).body.cost_usd));
  return costs.every((x) => typeof x === 'number') ? costs.reduce((a, b) => a + b, 0) : null;
}

describe('sessions with the fake CLI', () => {
  let gw: TestGateway;
  const c = client(() => gw);
  beforeAll(async () => {
    gw = await startGateway({ fake: true });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('lists sessions newest first, paginated, with what their processes add up to', async () => {
    const a1 = await c.chat('first session');
    const sid = a1.body.session_id as string;
    const a2 = await c.chat('second turn', { session_id: sid });
    expect(a2.status).toBe(200);
    const b = await c.chat('another session', { model: 'claude-cli/haiku' });
    const other = b.body.session_id as string;

    const page = await c.get('/v1/sessions?limit=1');
    expect(page.body).toMatchObject({ object: 'list', has_more: true, first_id: other, last_id: other });
    const next = await c.get(`/v1/sessions?limit=1&after=${other}`);
    expect(next.body.data.map((s: any) => s.id)).toEqual([sid]);
    expect((await c.get(`/v1/sessions?after=${sid}`)).body).toMatchObject({ data: [], has_more: false, first_id: null });

    const one = await c.get(`/v1/sessions/${sid}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: sid,
      object: 'session',
      provider: 'claude-cli',
      model: 'sonnet',
      turns: 2,
      // The fake CLI answers 3 input and 2 output tokens a turn.
      usage: { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10, cached_tokens: 0 },
      processes: [a1.body.process_id, a2.body.process_id],
    });
    expect(one.body.last_active_at).toBeGreaterThanOrEqual(one.body.created_at);
    expect(one.body.cost_usd).toEqual(await expectedCost(c, one.body.processes));
    // The list shows the same session, without its processes.
    const { processes, ...listed } = one.body;
    expect(processes).toHaveLength(2);
    expect(next.body.data[0]).toEqual(listed);
    expect((await c.get(`/v1/sessions/${other}`)).body).toMatchObject({ model: 'claude-cli/haiku', turns: 1 });
  });

  it('answers 400 to ids that are not UUIDs and 404 to unknown sessions', async () => {
    for (const bad of ['/v1/sessions/nope', '/v1/sessions?after=nope', '/v1/sessions?limit=0']) {
      expect((await c.get(bad)).status).toBe(400);
    }
    expect((await c.del('/v1/sessions/not-a-uuid')).status).toBe(400);
    expect((await c.del('/v1/sessions/00000000-0000-4000-8000-000000000000?purge=maybe')).status).toBe(400);
    const unknown = await c.get('/v1/sessions/00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'session_not_found', param: 'id' });
  });

  it('refuses to delete a busy session, then deletes it: its log stays, continuing it is 404', async () => {
    const first = await c.chat('to be deleted');
    const sid = first.body.session_id as string;
    const hanging = await c.chat('FAKE_HANG', { session_id: sid, background: true });
    await waitForStatus(gw.url, hanging.body.id, ['running'], 10_000);
    const busy = await c.del(`/v1/sessions/${sid}`);
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'session_busy', param: 'id' });
    await c.del(`/v1/processes/${hanging.body.id}`);

    const deleted = await c.del(`/v1/sessions/${sid}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: sid, object: 'session', deleted: true, turns: 1 });
    expect(deleted.body.processes).toEqual([first.body.process_id, hanging.body.id]);
    expect((await c.get(`/v1/sessions/${sid}`)).status).toBe(404);
    expect((await c.del(`/v1/sessions/${sid}`)).status).toBe(404);
    expect((await c.get('/v1/sessions?limit=1000')).body.data.map((s: any) => s.id)).not.toContain(sid);
    const again = await c.chat('still there?', { session_id: sid });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('session_not_found');
    // Its log and its process records are kept.
    expect(existsSync(path.join(gw.config.logDir, `${sid}.jsonl`))).toBe(true);
    expect((await c.get(`/v1/processes/${first.body.process_id}`)).status).toBe(200);
  });

  it('purge=true also removes the log', async () => {
    const sid = (await c.chat('purge me')).body.session_id as string;
    const log = path.join(gw.config.logDir, `${sid}.jsonl`);
    expect(existsSync(log)).toBe(true);
    expect((await c.del(`/v1/sessions/${sid}?purge=true`)).body.deleted).toBe(true);
    expect(existsSync(log)).toBe(false);
  });

  it('keeps a deletion across a restart', async () => {
    const dir = tempDir();
    let g = await startGateway({ fake: true, dir });
    const r = client(() => g);
    try {
      const sid = (await r.chat('deleted before the restart')).body.session_id as string;
      const kept = (await r.chat('kept across the restart')).body.session_id as string;
      expect((await r.del(`/v1/sessions/${sid}`)).status).toBe(200);
      await g.close();
      g = await startGateway({ fake: true, dir });
      expect((await r.get(`/v1/sessions/${sid}`)).status).toBe(404);
      expect((await r.get(`/v1/sessions/${kept}`)).body).toMatchObject({ id: kept, provider: 'claude-cli', turns: 1 });
    } finally {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sessions with two keys and an admin key', () => {
  let gw: TestGateway;
  const alice = client(() => gw, as('ka-secret'));
  const bob = client(() => gw, as('kb-secret'));
  const root = client(() => gw, as('adm-secret'));
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { GATEWAY_API_KEYS: 'alice:ka-secret,bob:kb-secret', GATEWAY_ADMIN_KEYS: 'root:adm-secret' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("shows a key its own sessions, an admin all, and another key a 404", async () => {
    const a = (await alice.chat('alice speaks')).body.session_id as string;
    const b = (await bob.chat('bob speaks')).body.session_id as string;
    const ids = async (who: ReturnType<typeof client>) => (await who.get('/v1/sessions')).body.data.map((s: any) => s.id);
    expect(await ids(alice)).toEqual([a]);
    expect(await ids(bob)).toEqual([b]);
    expect(await ids(root)).toEqual([b, a]);
    // Another key's session as a cursor is as unknown as one that never existed.
    expect((await bob.get(`/v1/sessions?after=${a}`)).body.data).toEqual([]);

    expect((await alice.get(`/v1/sessions/${a}`)).status).toBe(200);
    expect((await root.get(`/v1/sessions/${a}`)).status).toBe(200);
    const foreign = await bob.get(`/v1/sessions/${a}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('session_not_found');
    expect((await bob.del(`/v1/sessions/${a}`)).status).toBe(404);
    expect((await alice.get(`/v1/sessions/${a}`)).status).toBe(200);

    expect((await root.del(`/v1/sessions/${a}`)).body).toMatchObject({ id: a, deleted: true });
    expect((await alice.chat('back?', { session_id: a })).status).toBe(404);
    expect((await alice.del(`/v1/sessions/${b}`)).status).toBe(404);
    expect((await bob.del(`/v1/sessions/${b}`)).status).toBe(200);
  });
});

describe('sessions with the real CLI', () => {
  const ctx = useMockGateway();

  /** The CLI's transcripts of a session, under CLAUDE_CONFIG_DIR/projects/<project>/. */
  const transcripts = (sid: string) => {
    const projects = path.join(ctx.gw.config.claudeConfigDir, 'projects');
    if (!existsSync(projects)) return [];
    return readdirSync(projects)
      .map((d) => path.join(projects, d, `${sid}.jsonl`))
      .filter((f) => existsSync(f));
  };

  it('DELETE closes the hot process and removes the transcript; continuing is then 404', async () => {
    await waitForWarmPool(ctx.gw);
    const c = client(() => ctx.gw);
    ctx.mock.on('remember', { text: 'Remembered.', usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 7, cache_creation_input_tokens: 2 } });
    const first = await c.chat('remember the word');
    expect(first.status).toBe(200);
    const sid = first.body.session_id as string;
    expect((await c.chat('and again, remember', { session_id: sid })).status).toBe(200);
    expect(transcripts(sid)).toHaveLength(1);
    // Hot: the session's CLI process stays for its next turn.
    expect(processesMatching(sid).length).toBeGreaterThan(0);

    const session = (await c.get(`/v1/sessions/${sid}`)).body;
    expect(session).toMatchObject({
      provider: 'claude-cli',
      model: 'sonnet',
      turns: 2,
      usage: { prompt_tokens: 40, completion_tokens: 12, total_tokens: 52, cached_tokens: 14 },
    });
    expect(session.cost_usd).toEqual(await expectedCost(c, session.processes));

    const deleted = await c.del(`/v1/sessions/${sid}`);
    expect(deleted.status).toBe(200);
    expect(transcripts(sid)).toEqual([]);
    await waitFor(() => processesMatching(sid).length === 0, { what: 'the hot process to exit' });
    const again = await c.chat('still remember?', { session_id: sid });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('session_not_found');
    expect(existsSync(path.join(ctx.gw.config.logDir, `${sid}.jsonl`))).toBe(true);
  });
});
