import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/http/json-nesting.js';
import { type TestGateway, startGateway } from '../support/gateway.js';

/**
 * JSON nested far deeper than any real request (10,000 levels) is refused at the edge with a 400
 * naming the field, wherever it hides, before zod or anything else walks it recursively.
 */
let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ fake: true });
});
afterAll(async () => {
  await gw?.close();
});

const DEEP = 10_000;
/** `{"k":{"k":…<value>…}}`, `levels` objects deep, as text (building it as a value would overflow first). */
const nestedObjects = (levels: number, key = 'a', inner = '{}') => `${`{"${key}":`.repeat(levels - 1)}${inner}${'}'.repeat(levels - 1)}`;
/** A JSON Schema whose properties nest `levels` schemas deep. */
const nestedSchema = (levels: number) =>
  `${'{"type":"object","properties":{"a":'.repeat(levels - 1)}{"type":"string"}${'}}'.repeat(levels - 1)}`;

async function post(raw: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
  return { status: res.status, body: await res.json() };
}

function expectTooDeep(res: { status: number; body: any }, paramStart: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'nesting_too_deep' });
  const param: string = res.body.error.param;
  expect(param.startsWith(paramStart), param).toBe(true);
  // The path goes down to where the limit is crossed, cut at a field boundary when it is long.
  expect(param.endsWith('...'), param).toBe(true);
  expect(param.length).toBeLessThanOrEqual(123);
  expect(res.body.error.message).toContain(`at most ${MAX_JSON_DEPTH} levels`);
}

const head = '{"model":"sonnet","messages":[{"role":"user","content":"hi"}]';

describe(`JSON nested ${DEEP} levels deep`, () => {
  it('in a client function’s parameters: 400 naming tools[0].function.parameters…', async () => {
    const res = await post(`${head},"tools":[{"type":"function","function":{"name":"f","parameters":${nestedSchema(DEEP)}}}]}`);
    expectTooDeep(res, 'tools[0].function.parameters.properties.a.properties.a.');
  });

  it('in a response_format schema: 400 naming response_format.json_schema.schema…', async () => {
    const res = await post(`${head},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${nestedSchema(DEEP)}}}}`);
    expectTooDeep(res, 'response_format.json_schema.schema.properties.a.');
  });

  it('in an extra field of a message: 400, and nothing runs or reaches the session log', async () => {
    const processes = async () => (await (await fetch(`${gw.url}/v1/processes?limit=1000`)).json()).data.length;
    const before = { processes: await processes(), logs: readdirSync(gw.config.logDir).length };
    const res = await post(`{"model":"sonnet","messages":[{"role":"user","content":"hi","extra":${nestedObjects(DEEP)}}]}`);
    expectTooDeep(res, 'messages[0].extra.a.a.a.');
    expect(await processes()).toBe(before.processes);
    expect(readdirSync(gw.config.logDir)).toHaveLength(before.logs);
  });

  it('as an array of arrays (the whole body): 400 naming [0][0]…', async () => {
    const res = await post(`${'['.repeat(DEEP)}${']'.repeat(DEEP)}`);
    expectTooDeep(res, '[0][0][0]');
  });

  it('under a huge key: the param is cut inside it', async () => {
    const key = 'k'.repeat(100_000);
    const res = await post(`{"model":"sonnet","messages":[{"role":"user","content":"hi"}],"${key}":${nestedObjects(DEEP)}}`);
    expectTooDeep(res, 'kkkk');
  });

  it(`${MAX_JSON_DEPTH} levels are fine and logged whole; one more is refused`, async () => {
    // body (1) > messages (2) > message (3) > extra: the rest of the levels.
    const fits = await post(`{"model":"sonnet","messages":[{"role":"user","content":"hi","extra":${nestedObjects(MAX_JSON_DEPTH - 3)}}]}`);
    expect(fits.status, JSON.stringify(fits.body)).toBe(200);
    const log = readFileSync(path.join(gw.config.logDir, `${fits.body.session_id}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((l) => l.type)).toEqual(['request', 'response']);
    expect(JSON.stringify(log[0].messages)).toContain('"extra":{"a":{"a"');
    const over = await post(`{"model":"sonnet","messages":[{"role":"user","content":"hi","extra":${nestedObjects(MAX_JSON_DEPTH - 2)}}]}`);
    expectTooDeep(over, 'messages[0].extra.a.a.');
  });

  it('cannot come in through a query string: Fastify keeps a[b][c]… one flat key', async () => {
    const res = await fetch(`${gw.url}/v1/processes?status${'[a]'.repeat(3_000)}=completed&limit=1`);
    expect(res.status).toBe(200);
    expect((await res.json()).object).toBe('list');
  });

  it('the gateway keeps serving', async () => {
    const res = await post(`${head}}`);
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toBe('fake answer');
  });
});
