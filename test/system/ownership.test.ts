// Ownership per key: with keys configured, every process, session and event belongs to
// the key that created it. Another non-admin key gets 404 for it, never lists it and never hears of
// it on its WebSocket, live or replayed; admin keys see everything. Real gateways on loopback with
// the fake CLI, a key file on a spawned one, the real CLI against the mock upstream for parked runs.
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedKeyId } from '../../src/core/keys.js';
import { FAKE_CLAUDE, type TestGateway, startGateway, tempDir } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { type EventSocket, completion, fetchJson, openEvents, waitFor, waitForStatus } from '../support/process-helpers.js';
import { spawnGateway } from '../support/spawn-gateway.js';

const ALICE = 'ka-secret';
const BOB = 'kb-secret';
const ROOT = 'adm-secret';
const SECRETS = [ALICE, BOB, ROOT];
const BOB_ID = derivedKeyId(BOB);
const KEYS = { GATEWAY_API_KEYS: `alice:${ALICE},${BOB}`, GATEWAY_ADMIN_KEYS: `root:${ROOT}` };

const as = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('with two keys and an admin key', () => {
  let gw: TestGateway;
  const chat = (secret: string, content: string, extra: Record<string, unknown> = {}) =>
    fetchJson(`${gw.url}/v1/chat/completions`, { body: completion(content, extra), headers: as(secret) });
  const get = (secret: string, p: string) => fetchJson(`${gw.url}${p}`, { headers: as(secret) });
  const list = async (secret: string, query = '') => (await get(secret, `/v1/processes${query}`)).body;

  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: KEYS });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('gives each process the id of its key, and another key a 404 for it', async () => {
    const a = await chat(ALICE, 'hi from alice');
    expect(a.status).toBe(200);
    const id = a.body.process_id as string;
    const b = await chat(BOB, 'hi from bob');
    expect(b.status).toBe(200);

    expect((await get(ALICE, `/v1/processes/${id}`)).body).toMatchObject({ id, key_id: 'alice', status: 'completed' });
    expect((await get(ROOT, `/v1/processes/${id}`)).body).toMatchObject({ id, key_id: 'alice' });
    expect((await get(ALICE, `/v1/processes/${b.body.process_id}`)).status).toBe(404);
    expect((await get(ROOT, `/v1/processes/${b.body.process_id}`)).body.key_id).toBe(BOB_ID);
    const foreign = await get(BOB, `/v1/processes/${id}`);
    expect(foreign.status).toBe(404);
    // What an id that never existed gets: nothing tells the two apart.
    const never = `proc_${'0'.repeat(32)}`;
    const unknown = await get(BOB, `/v1/processes/${never}`);
    expect(foreign.body.error).toEqual({ ...unknown.body.error, message: unknown.body.error.message.replace(never, id) });
  });

  it('lets only the owner or an admin cancel', async () => {
    const started = await chat(ALICE, 'FAKE_HANG', { background: true });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    expect(started.body.key_id).toBe('alice');
    await waitForStatus(gw.url, id, ['running'], 10_000, as(ALICE));

    const refused = await fetchJson(`${gw.url}/v1/processes/${id}`, { method: 'DELETE', headers: as(BOB) });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('process_not_found');
    expect((await get(ALICE, `/v1/processes/${id}`)).body.status).toBe('running');

    const cancelled = await fetchJson(`${gw.url}/v1/processes/${id}`, { method: 'DELETE', headers: as(ROOT) });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id, status: 'cancelled', key_id: 'alice' });
  });

  it('lists a key its own processes only, filtered before paginating; an admin all of them', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) mine.push((await chat(BOB, `bob ${i}`)).body.process_id);
    const alices = (await chat(ALICE, 'alice again')).body.process_id as string;

    // Bob pages through his own only, one at a time: alice's newer process neither fills a page nor counts for has_more.
    const seen: string[] = [];
    let after = '';
    for (;;) {
      const page = await list(BOB, `?limit=1${after && `&after=${after}`}`);
      expect(page.data).toHaveLength(1);
      expect(page.data[0].key_id).toBe(BOB_ID);
      seen.push(page.data[0].id);
      if (!page.has_more) break;
      after = page.last_id;
    }
    expect(seen.slice(0, 3)).toEqual([...mine].reverse());
    expect(seen).toHaveLength(4); // and the one of the first test
    // Another key's process is no cursor either: as unknown as an id that never existed.
    expect(await list(BOB, `?after=${alices}`)).toMatchObject({ data: [], has_more: false });

    const alicesList = await list(ALICE, '?limit=1000');
    expect(alicesList.data.every((r: any) => r.key_id === 'alice')).toBe(true);
    expect(alicesList.data.map((r: any) => r.id)).toContain(alices);

    const all = await list(ROOT, '?limit=1000');
    expect(new Set(all.data.map((r: any) => r.key_id))).toEqual(new Set(['alice', BOB_ID]));
    expect(all.data.length).toBe(alicesList.data.length + seen.length);
    const firstTwo = await list(ROOT, '?limit=2');
    expect(firstTwo).toMatchObject({ has_more: true, first_id: alices, last_id: mine[2] });
  });

  it("answers 404 session_not_found to another key continuing a session, streamed or not", async () => {
    const first = await chat(ALICE, 'remember this');
    const sid = first.body.session_id as string;

    for (const extra of [{}, { stream: true }, { background: true }]) {
      const foreign = await chat(BOB, 'and now?', { session_id: sid, ...extra });
      expect(foreign.status).toBe(404);
      expect(foreign.body.error).toMatchObject({ code: 'session_not_found', param: 'session_id' });
    }
    // As unknown as a session that never existed.
    const never = await chat(BOB, 'and now?', { session_id: '00000000-0000-4000-8000-000000000000' });
    expect(never.body.error.code).toBe('session_not_found');

    const own = await chat(ALICE, 'and now?', { session_id: sid });
    expect(own.status).toBe(200);
    expect(own.body.session_id).toBe(sid);
    // An admin may continue it; that turn is the admin's process, the session stays alice's.
    const admin = await chat(ROOT, 'and now, admin?', { session_id: sid });
    expect(admin.status).toBe(200);
    expect((await get(ROOT, `/v1/processes/${admin.body.process_id}`)).body.key_id).toBe('root');
    expect((await chat(BOB, 'still not', { session_id: sid })).status).toBe(404);
  });

  it("keeps each key's events off another key's WebSocket, live and replayed; an admin's gets all", async () => {
    const before = gw.app.gateway.stats().lastSeq;
    const sockets: EventSocket[] = [];
    const open = async (query: Record<string, string | number>, headers?: Record<string, string>) => {
      const s = await openEvents(gw.url, query, headers);
      sockets.push(s);
      return s;
    };
    try {
      const alice = await open({}, as(ALICE));
      // The key as a browser sends it: the upgrade request's principal decides either way.
      const bob = await open({ api_key: BOB });
      const root = await open({}, as(ROOT));

      const a = (await chat(ALICE, 'alice live')).body.process_id as string;
      const b = (await chat(BOB, 'bob live')).body.process_id as string;
      const done = (id: string) => (e: any) => e.process_id === id && e.type === 'PROCESS_COMPLETE';
      // Events arrive in order on every socket: once bob's own last one is there, alice's would have been.
      await bob.next(done(b));
      await alice.next(done(a));
      await root.next(done(b));
      await root.next(done(a));

      expect(bob.events.filter((e) => e.process_id === a)).toEqual([]);
      expect(bob.events.every((e) => e.key_id === BOB_ID)).toBe(true);
      expect(alice.events.filter((e) => e.process_id === b)).toEqual([]);
      expect(alice.events.every((e) => e.key_id === 'alice')).toBe(true);
      expect(root.events.filter((e) => e.process_id === a).map((e) => e.type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);

      // A filter naming another key's process yields nothing either.
      const spying = await open({ process_id: a, since: before }, as(BOB));
      const bobReplay = await open({ since: before }, as(BOB));
      const rootReplay = await open({ since: before }, as(ROOT));
      await bobReplay.next(done(b));
      await rootReplay.next(done(b));
      expect(bobReplay.events.map((e) => e.process_id)).toEqual(bob.events.map((e) => e.process_id));
      expect(rootReplay.events.map((e) => e.seq)).toEqual(root.events.map((e) => e.seq));
      expect(spying.events).toEqual([]);
      // Replay from the start of everything: still only bob's own.
      const full = await open({ since: 0 }, as(BOB));
      await full.next(done(b));
      expect(full.events.length).toBeGreaterThan(bobReplay.events.length);
      expect(full.events.every((e) => e.key_id === BOB_ID)).toBe(true);
    } finally {
      await Promise.all(sockets.map((s) => s.close()));
    }
  });

  it('writes key ids, never secrets, in records, the session index and the session log', async () => {
    const done = await chat(ALICE, 'on the record');
    const sid = done.body.session_id as string;
    const files = filesUnder(gw.config.dataDir);
    const sessionLog = readFileSync(path.join(gw.config.logDir, `${sid}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sessionLog.map((l) => [l.type, l.key_id])).toEqual([
      ['request', 'alice'],
      ['response', 'alice'],
    ]);
    const records = readFileSync(path.join(gw.config.dataDir, 'processes.jsonl'), 'utf8');
    expect(records).toContain(`"key_id":"${BOB_ID}"`);
    const sessions = readFileSync(path.join(gw.config.dataDir, 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sessions.find((s) => s.session_id === sid)).toMatchObject({ key_id: 'alice' });
    for (const f of files) {
      const text = readFileSync(f, 'latin1');
      for (const secret of SECRETS) expect(text.includes(secret), `${f} holds a secret`).toBe(false);
    }
  });
});

describe('a key file with ids', () => {
  it('names processes by the ids it gives, logs the id and never the secret, and follows a SIGHUP reload', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys');
    writeFileSync(file, '# team keys\nteam-a:fa-secret\nfb-secret\n');
    const running = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_WORKDIR: path.join(dir, 'ws'), CLAUDE_BIN: FAKE_CLAUDE, GATEWAY_API_KEYS_FILE: file });
    try {
      const post = (secret: string) => fetchJson(`${running.url}/v1/chat/completions`, { body: completion('hi'), headers: as(secret) });
      const a = await post('fa-secret');
      expect(a.status).toBe(200);
      const b = await post('fb-secret');
      const record = (secret: string, id: string) => fetchJson(`${running.url}/v1/processes/${id}`, { headers: as(secret) });
      expect((await record('fa-secret', a.body.process_id)).body.key_id).toBe('team-a');
      expect((await record('fb-secret', b.body.process_id)).body.key_id).toBe(derivedKeyId('fb-secret'));
      expect((await record('fb-secret', a.body.process_id)).status).toBe(404);

      // The same secret under another id after a reload: that key no longer owns team-a's work.
      writeFileSync(file, 'team-b:fa-secret\n');
      running.child.kill('SIGHUP');
      await waitFor(() => running.output().includes('API keys reloaded'));
      expect((await record('fa-secret', a.body.process_id)).status).toBe(404);
      expect((await record('fb-secret', b.body.process_id)).status).toBe(401);

      // Request log lines name the key by its id.
      const lines = running.output().split('\n').filter((l) => l.includes('"key_id":"team-a"'));
      expect(lines.some((l) => l.includes('request completed'))).toBe(true);
      for (const secret of ['fa-secret', 'fb-secret']) expect(running.output()).not.toContain(secret);
    } finally {
      await running.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the previous keys when the reloaded file is unusable, without quoting it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'keys');
    writeFileSync(file, 'team-a:fa-secret\n');
    const running = await spawnGateway({ DATA_DIR: path.join(dir, 'data'), CLAUDE_BIN: FAKE_CLAUDE, GATEWAY_API_KEYS_FILE: file });
    try {
      // One secret under two ids: ownership would be ambiguous.
      writeFileSync(file, 'team-a:fa-secret\nteam-c:fa-secret\n');
      running.child.kill('SIGHUP');
      await waitFor(() => running.output().includes('the previous keys stay in force'));
      expect(running.output()).toContain("the keys 'team-a' and 'team-c' have the same secret");
      expect(running.output()).not.toContain('fa-secret');
      const models = await fetch(`${running.url}/v1/models`, { headers: as('fa-secret') });
      expect(models.status).toBe(200);
    } finally {
      await running.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a parked run's tool results", () => {
  let mock: MockUpstream;
  let gw: TestGateway;
  beforeAll(async () => {
    mock = await startMockAnthropic();
    gw = await startGateway({ mock, env: { ...KEYS, TOOL_WAIT_TTL_MS: '60000' } });
  });
  afterAll(async () => {
    await gw?.close();
    await mock?.close();
  });

  it("do not let another key continue the run: its results are a new conversation of that key's", async () => {
    const weather = {
      type: 'function' as const,
      function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
    };
    mock.on('weather in Lima?', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Lima' } });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in Lima?' }];
    const first = await gw.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather] });
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    const parked = { processId: (first as any).process_id as string, sessionId: (first as any).session_id as string };
    const withResults = [
      ...messages,
      first.choices[0]!.message,
      ...first.choices[0]!.message.tool_calls!.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: 'LIMA-SUNNY' })),
    ];

    const bob = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: BOB, maxRetries: 0 });
    // With the session named: as unknown as any other key's session.
    await expect(bob.chat.completions.create({ model: 'sonnet', tools: [weather], messages: withResults, session_id: parked.sessionId } as never)).rejects.toMatchObject({
      status: 404,
      code: 'session_not_found',
    });
    // Routed by tool_call_id: not to alice's run, but answered afresh from the whole conversation.
    mock.on('LIMA-SUNNY', { text: 'a fresh answer' });
    const late = await bob.chat.completions.create({ model: 'sonnet', tools: [weather], messages: withResults });
    expect(late.choices[0]!.message.content).toBe('a fresh answer');
    expect((late as any).session_id).not.toBe(parked.sessionId);
    expect(mock.messageRequests().at(-1)!.lastUserText).toContain('<conversation_history>');
    const alices = await fetchJson(`${gw.url}/v1/processes/${parked.processId}`, { headers: as(ALICE) });
    expect(alices.body).toMatchObject({ status: 'requires_action', key_id: 'alice' });

    // Alice's own results still reach her parked run.
    mock.on('LIMA-SUNNY', { text: 'sunny in Lima' });
    const own = await gw.openai.chat.completions.create({ model: 'sonnet', tools: [weather], messages: withResults });
    expect(own.choices[0]!.message.content).toBe('sunny in Lima');
    expect((own as any).session_id).toBe(parked.sessionId);
    expect((await fetchJson(`${gw.url}/v1/processes/${parked.processId}`, { headers: as(ALICE) })).body.status).toBe('completed');
  });
});
