// WebSocket /v1/events with a real `ws` client: lifecycle events, filters, `since` replays, and
// what is refused before the upgrade (bad query, missing key).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { completion, fetchJson, openEvents, sleep, type EventSocket, waitForStatus } from '../support/process-helpers.js';

describe('events (fake CLI)', () => {
  let gw: TestGateway;
  const sockets: EventSocket[] = [];
  const subscribe = async (query: Record<string, string | number> = {}) => {
    const s = await openEvents(gw.url, query);
    sockets.push(s);
    return s;
  };
  const background = async (content: string, extra: Record<string, unknown> = {}) => {
    const r = await fetchJson(`${gw.url}/v1/chat/completions`, { body: completion(content, { background: true, ...extra }) });
    expect(r.status).toBe(202);
    return r.body as { id: string; session_id: string };
  };

  beforeAll(async () => {
    gw = await startGateway({ fake: true });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await gw?.close();
  });

  it('a subscriber sees QUEUED, STARTED and COMPLETE (with the result) of a background completion, seq increasing', async () => {
    const sub = await subscribe();
    const p = await background('events please');
    const complete = await sub.next((e) => e.process_id === p.id && e.type === 'PROCESS_COMPLETE');
    const mine = sub.events.filter((e) => e.process_id === p.id);
    expect(mine.map((e) => e.type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);
    expect(mine.map((e) => e.status)).toEqual(['queued', 'running', 'completed']);
    for (let i = 1; i < sub.events.length; i++) expect(sub.events[i].seq).toBeGreaterThan(sub.events[i - 1].seq);
    for (const e of mine) {
      expect(e).toMatchObject({ process_id: p.id, session_id: p.session_id, model: 'sonnet' });
      expect(typeof e.ts).toBe('number');
      expect(e.internal).toBeUndefined(); // in-process details never go on the wire
    }
    expect(complete.result).toMatchObject({
      object: 'chat.completion',
      process_id: p.id,
      choices: [{ message: { role: 'assistant', content: 'fake answer' } }],
    });
    // the record agrees with the event
    const record = await waitForStatus(gw.url, p.id, ['completed']);
    expect(record.result).toEqual(complete.result);
  });

  it('a failed process is reported by a PROCESS_COMPLETE carrying the error', async () => {
    const sub = await subscribe({ types: 'PROCESS_COMPLETE' });
    const p = await background('FAKE_EXIT143 now');
    const complete = await sub.next((e) => e.process_id === p.id);
    expect(complete).toMatchObject({ type: 'PROCESS_COMPLETE', status: 'failed', error: { type: 'api_error' } });
    expect(complete.result).toBeUndefined();
  });

  it('filters by process_id, session_id and types', async () => {
    const byType = await subscribe({ types: 'PROCESS_STARTED,PROCESS_COMPLETE' });
    const all = await subscribe();
    const a = await background('filter A');
    // a second turn on A's session, and an unrelated process B
    await waitForStatus(gw.url, a.id, ['completed']);
    const byProcess = await subscribe({ process_id: a.id, since: 0 });
    const bySession = await subscribe({ session_id: a.session_id });
    const a2 = await background('filter A2', { session_id: a.session_id });
    const b = await background('filter B');
    for (const id of [a2.id, b.id]) await all.next((e) => e.process_id === id && e.type === 'PROCESS_COMPLETE');
    await sleep(50); // let every socket receive its last message

    expect(byType.events.length).toBeGreaterThan(0);
    expect(new Set(byType.events.map((e) => e.type))).toEqual(new Set(['PROCESS_STARTED', 'PROCESS_COMPLETE']));
    expect(byType.events.filter((e) => [a.id, a2.id, b.id].includes(e.process_id))).toHaveLength(6);

    expect(byProcess.events.map((e) => [e.process_id, e.type])).toEqual([
      [a.id, 'PROCESS_QUEUED'],
      [a.id, 'PROCESS_STARTED'],
      [a.id, 'PROCESS_COMPLETE'],
    ]);

    expect(bySession.events.length).toBe(3);
    expect(bySession.events.every((e) => e.session_id === a.session_id && e.process_id === a2.id)).toBe(true);

    // the unfiltered subscriber saw all of it
    expect(all.events.filter((e) => [a.id, a2.id, b.id].includes(e.process_id))).toHaveLength(9);
  });

  it('reconnecting with since=<last seq> replays exactly what was missed', async () => {
    const first = await subscribe();
    const p1 = await background('replay one');
    const seen = await first.next((e) => e.process_id === p1.id && e.type === 'PROCESS_COMPLETE');
    await first.close();

    // while nobody listens
    const p2 = await background('replay two');
    const p3 = await background('replay three');
    await waitForStatus(gw.url, p2.id, ['completed']);
    await waitForStatus(gw.url, p3.id, ['completed']);

    const watcher = await subscribe({ since: 0 });
    const back = await subscribe({ since: seen.seq });
    await back.next((e) => e.process_id === p3.id && e.type === 'PROCESS_COMPLETE', 3_000);
    // then a live one after the replay, on the same socket
    const p4 = await background('replay four');
    await back.next((e) => e.process_id === p4.id && e.type === 'PROCESS_COMPLETE');
    await watcher.next((e) => e.process_id === p4.id && e.type === 'PROCESS_COMPLETE');

    // exactly the events after `seen`, no gap, no duplicate: the same as the full history from there on
    const expected = watcher.events.filter((e) => e.seq > seen.seq);
    expect(back.events).toEqual(expected);
    expect(back.events[0].seq).toBe(seen.seq + 1);
    const seqs = back.events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seen.seq + 1 + i));
    expect(new Set(back.events.map((e) => e.process_id))).toEqual(new Set([p2.id, p3.id, p4.id]));
    // and since=0 replays the whole history, the first subscriber's events included
    for (const e of first.events) expect(watcher.events).toContainEqual(e);
  });

  it('a bad query is an HTTP 400 before the upgrade', async () => {
    const queries: Record<string, string>[] = [{ types: 'PROCESS_NOPE' }, { types: 'PROCESS_QUEUED,bogus' }, { since: 'yesterday' }];
    for (const query of queries) {
      const err: any = await openEvents(gw.url, query).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err?.status, JSON.stringify(query)).toBe(400);
      const body = JSON.parse(err.body);
      expect(body.error).toMatchObject({ type: 'invalid_request_error' });
    }
    // plain fetch (no upgrade) gets the same answer
    const r = await fetchJson(`${gw.url}/v1/events?types=NOPE`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/types/);
  });
});

describe('events with GATEWAY_API_KEYS', () => {
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    gw = await startGateway({ fake: true, env: { GATEWAY_API_KEYS: 'key-one,key-two' } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const currentGateway = () => {
    if (!gw) throw new Error('no gateway');
    return gw;
  };

  it('needs the key, in the Authorization header or as ?api_key=', async () => {
    const gw = currentGateway();
    const refusal = (p: Promise<EventSocket>) =>
      p.then(
        async (s) => {
          await s.close();
          return 101;
        },
        (e: any) => {
          expect(JSON.parse(e.body).error).toMatchObject({ type: 'authentication_error' });
          return e.status as number;
        },
      );
    expect(await refusal(openEvents(gw.url))).toBe(401);
    expect(await refusal(openEvents(gw.url, { api_key: 'wrong' }))).toBe(401);
    expect(await refusal(openEvents(gw.url, {}, { authorization: 'Bearer wrong' }))).toBe(401);

    // Both with the key that runs the completion: another key's socket would not hear of it.
    const viaHeader = await openEvents(gw.url, {}, { authorization: 'Bearer key-one' });
    const viaQuery = await openEvents(gw.url, { api_key: 'key-one' });
    try {
      const r = await fetchJson(`${gw.url}/v1/chat/completions`, {
        body: completion('authorised', { background: true }),
        headers: { authorization: 'Bearer key-one' },
      });
      expect(r.status).toBe(202);
      for (const s of [viaHeader, viaQuery]) {
        const e = await s.next((ev) => ev.process_id === r.body.id && ev.type === 'PROCESS_COMPLETE');
        expect(e.status).toBe('completed');
      }
    } finally {
      await viaHeader.close();
      await viaQuery.close();
    }
    // the query key is for the WebSocket only: other routes still need the header
    const viaQueryElsewhere = await fetchJson(`${gw.url}/v1/processes?api_key=key-one`);
    expect(viaQueryElsewhere.status).toBe(401);
  });

  it('refused upgrades leave no socket open: the gateway still closes promptly', async () => {
    const g = currentGateway();
    const started = Date.now();
    await g.close();
    gw = undefined;
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
