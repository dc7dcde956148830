/**
 * The spec-driven fuzzer (what schemathesis does, for a machine that cannot reach PyPI; the real one
 * runs with scripts/schemathesis.sh): for every operation of openapi.yaml it generates requests
 * from the parameter and body schemas, valid ones and ones the document forbids (the document's own
 * validator decides which is which), sends them to a real gateway running the fake CLI, and checks:
 *
 * - no 5xx (not_a_server_error);
 * - the status, the content type, the body and the headers are the ones the document declares for
 *   the operation (status_code_conformance, content_type_conformance, response_schema_conformance,
 *   response_headers_conformance), streamed events and YAML included;
 * - a request the document forbids gets a 4xx (negative_data_rejection), and one it allows is not
 *   refused by the server's own schema (positive_data_acceptance: no 400 `invalid_value` or
 *   `missing_required_parameter`);
 * - a method the document does not declare for a path gets 405 with `Allow` (unsupported_method).
 *
 * SPEC_FUZZ_RUNS scales it (`npm run fuzz:spec`); SPEC_FUZZ_STATS=1 prints the answers per operation.
 */
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { type Answer, type Contract, type Json, openContract } from '../support/openapi-contract.js';
import { type Schema, invalidValue, validValue } from '../support/schema-arbitrary.js';

const RUNS = Number(process.env.SPEC_FUZZ_RUNS ?? 25);
const TIMEOUT = Math.max(60_000, RUNS * 2_000);
const HTTP_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'] as const;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}

interface Operation {
  id: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body?: Schema;
}

/** A request before it is put on the wire: values by parameter name, as generated. */
interface Draft {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
  header: Record<string, unknown>;
  body?: unknown;
}

interface WireRequest {
  method: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
}

let contract: Contract;
let gw: TestGateway;
let operations: Operation[];
const stats = new Map<string, Map<string, number>>();

/** What a parameter's value becomes on the wire. */
const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
/** Header values a client can send and a server reads back unchanged (Node trims whitespace). */
const sendableHeader = (v: string) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(v);

function toWire(op: Operation, d: Draft): WireRequest {
  const query = Object.fromEntries(Object.entries(d.query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, asText(v)]));
  const headers = Object.fromEntries(Object.entries(d.header).filter(([, v]) => v !== undefined).map(([k, v]) => [k.toLowerCase(), asText(v)]));
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(asText(d.path[name] ?? '')));
  const qs = new URLSearchParams(query).toString();
  const req: WireRequest = { method: op.method.toUpperCase(), url: qs ? `${path}?${qs}` : path, query, headers };
  if (d.body !== undefined) {
    req.body = JSON.stringify(d.body);
    req.headers['content-type'] = 'application/json';
  }
  return req;
}

const isSendable = (op: Operation) => (d: Draft) => Object.values(toWire(op, d).headers).every(sendableHeader);

/** Valid values for every parameter (optional ones sometimes left out) and the body. */
function validDraft(op: Operation): fc.Arbitrary<Draft> {
  const draft: Record<Parameter['in'], Record<string, fc.Arbitrary<unknown>>> = { path: {}, query: {}, header: {} };
  for (const p of op.parameters) {
    draft[p.in][p.name] = p.required ? validValue(p.schema) : fc.option(validValue(p.schema), { nil: undefined });
  }
  return fc
    .record({
      path: fc.record(draft.path),
      query: fc.record(draft.query),
      header: fc.record(draft.header),
      body: op.body ? validValue(op.body) : fc.constant(undefined),
    })
    .filter(isSendable(op));
}

/** A valid draft with one thing broken: a parameter or the body invalid, or a required one missing. */
function invalidDraft(op: Operation): fc.Arbitrary<Draft> | undefined {
  const base = validDraft(op);
  const breakages: fc.Arbitrary<Draft>[] = [];
  for (const p of op.parameters) {
    const bad = invalidValue(p.schema);
    if (bad) breakages.push(fc.tuple(base, bad).map(([d, v]) => ({ ...d, [p.in]: { ...d[p.in], [p.name]: v } })));
    if (p.required && p.in !== 'path') breakages.push(base.map((d) => ({ ...d, [p.in]: { ...d[p.in], [p.name]: undefined } })));
  }
  const badBody = op.body ? invalidValue(op.body) : undefined;
  if (badBody) breakages.push(fc.tuple(base, badBody).map(([d, body]) => ({ ...d, body })));
  return breakages.length ? fc.oneof(...breakages).filter(isSendable(op)) : undefined;
}

/** Sends a request as it is (any method, handshake headers included); a 101 closes the socket at once. */
function send(req: WireRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request(`${gw.url}${req.url}`, { method: req.method, headers: req.headers, agent: false });
    const headersOf = (res: http.IncomingMessage) =>
      Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
    r.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: headersOf(res), text: '', body: '' });
    });
    r.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const headers = headersOf(res);
        const json = (headers['content-type'] ?? '').startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, headers, text, body: json ? JSON.parse(text) : text });
      });
    });
    r.on('error', reject);
    r.setTimeout(20_000, () => r.destroy(new Error(`no answer to ${req.method} ${req.url} within 20 s`)));
    r.end(req.body);
  });
}

/** Whether the document allows the request, by its own validator (openapi-backend, Ajv). */
function allowed(op: Operation, req: WireRequest, d: Draft): boolean {
  const path = req.url.split('?')[0]!;
  return contract.api.validator.validateRequest({ method: op.method, path, query: req.query, headers: req.headers, body: d.body }, op.id).valid;
}

function count(op: Operation, kind: string, res: Answer): void {
  const key = `${op.id} ${kind}`;
  const byStatus = stats.get(key) ?? new Map<string, number>();
  const label = `${res.status}${res.body?.error?.code ? ` ${res.body.error.code}` : ''}`;
  byStatus.set(label, (byStatus.get(label) ?? 0) + 1);
  stats.set(key, byStatus);
}

/** schemathesis's checks, for one answer. */
function check(op: Operation, req: WireRequest, valid: boolean, res: Answer): void {
  count(op, valid ? 'valid' : 'invalid', res);
  const what = `${valid ? 'valid' : 'invalid'} ${req.method} ${req.url} ${JSON.stringify(req.headers)} ${req.body?.slice(0, 600) ?? ''} → ${res.status} ${res.text.slice(0, 600)}`;
  expect(res.status, `server error: ${what}`).toBeLessThan(500);
  if (valid) {
    const code = res.body?.error?.code;
    expect(res.status === 400 && ['invalid_value', 'missing_required_parameter'].includes(code), `a request the document allows was refused by the server's schema: ${what}`).toBe(false);
  } else {
    expect(res.status, `a request the document forbids was accepted: ${what}`).toBeGreaterThanOrEqual(400);
  }
  // Forbidden requests may hit errors before the operation's own (an unknown route for an empty id),
  // so only valid ones must carry a code their status's description names.
  try {
    contract.expectDocumented(op.id, res, { strictCodes: valid });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  for ${what}`);
  }
}

/** The operations of the document (openapi-backend merges path-level parameters into each). */
function readOperations(): Operation[] {
  return contract.api.getOperations().map((op) => {
    const params = (op.parameters ?? []) as Json[];
    return {
      id: op.operationId!,
      method: op.method,
      path: op.path,
      // A parameter's own examples count as its schema's (schemathesis uses both).
      parameters: params.map((p) => {
        const own = [...('example' in p ? [p.example] : []), ...Object.values<Json>(p.examples ?? {}).map((e) => e.value)];
        return { ...p, schema: { ...p.schema, examples: [...(p.schema.examples ?? []), ...own] } };
      }),
      body: (op.requestBody as Json)?.content?.['application/json']?.schema,
    };
  });
}

/** Like schemathesis's stateful links: ids the gateway handed out become examples of the parameters that take them. */
async function seedExamples(): Promise<void> {
  const created: Answer[] = [];
  for (const background of [false, true]) {
    const body = JSON.stringify({ model: 'haiku', messages: [{ role: 'user', content: 'seed' }], background });
    created.push(await send({ method: 'POST', url: '/v1/chat/completions', query: {}, headers: { 'content-type': 'application/json' }, body }));
  }
  const processIds = created.map((r) => r.headers['x-process-id']!);
  const sessionIds = created.map((r) => r.headers['x-session-id']!);
  const hints: Record<string, string[]> = { id: processIds, after: processIds, process_id: processIds, session_id: sessionIds };
  const withHints = (name: string, schema: Json) => (hints[name] ? { ...schema, examples: [...(schema.examples ?? []), ...hints[name]!] } : schema);
  for (const op of operations) {
    op.parameters = op.parameters.map((p) => ({ ...p, schema: withHints(p.name, p.schema) }));
    const props = (op.body as Json)?.properties;
    if (props?.session_id) op.body = { ...(op.body as Json), properties: { ...props, session_id: withHints('session_id', props.session_id) } };
  }
}

beforeAll(async () => {
  contract = await openContract();
  // The fake CLI answers at once; load shedding is off so a busy test machine gets no 503.
  // No Anthropic API (no network here): its models, which the document names as examples, are 404s.
  gw = await startGateway({ fake: true, parentEnv: { ANTHROPIC_API_KEY: '' }, env: { ALLOWED_TOOLS: 'Read', MAX_EVENT_LOOP_DELAY_MS: '0', REQUEST_TIMEOUT_MS: '20000' } });
  operations = readOperations();
  await seedExamples();
});

afterAll(async () => {
  if (process.env.SPEC_FUZZ_STATS) {
    for (const [key, byStatus] of [...stats].sort()) console.log(key, Object.fromEntries([...byStatus].sort()));
  }
  await gw?.close();
});

describe(`openapi.yaml as a fuzzer reads it (${RUNS} runs per operation and kind)`, () => {
  it('covers every operation of the document', () => {
    expect(operations.length).toBeGreaterThanOrEqual(13);
  });

  it('valid requests: no 5xx, and every answer is what the document declares', async () => {
    for (const op of operations) {
      const runs = op.parameters.length || op.body ? RUNS * (op.body ? 3 : 1) : 3;
      await fc.assert(
        fc.asyncProperty(validDraft(op), async (d) => {
          const req = toWire(op, d);
          check(op, req, allowed(op, req, d), await send(req));
        }),
        { numRuns: runs },
      );
    }
  }, TIMEOUT);

  it('requests the document forbids: a 4xx, as the document declares it', async () => {
    for (const op of operations) {
      const drafts = invalidDraft(op);
      if (!drafts) continue;
      await fc.assert(
        fc.asyncProperty(drafts, async (d) => {
          const req = toWire(op, d);
          check(op, req, allowed(op, req, d), await send(req));
        }),
        { numRuns: RUNS * (op.body ? 3 : 1) },
      );
    }
  }, TIMEOUT);

  it('a method the document does not declare for a path: 405 method_not_allowed with Allow', async () => {
    const byPath = new Map<string, Operation[]>();
    for (const op of operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
    for (const [path, ops] of byPath) {
      const declared = ops.map((o) => o.method.toUpperCase());
      const expected = new Set([...declared, ...(declared.includes('GET') ? ['HEAD'] : [])]);
      const sample = fc.sample(validDraft(ops[0]!), { numRuns: 1, seed: 1 })[0]!;
      const url = toWire(ops[0]!, sample).url.split('?')[0]!;
      for (const method of HTTP_METHODS.filter((m) => !declared.includes(m))) {
        const res = await send({ method, url, query: {}, headers: {} });
        const what = `${method} ${url} (${path}) → ${res.status} ${res.text.slice(0, 300)}`;
        expect(res.status, what).toBe(405);
        expect(new Set(res.headers.allow?.split(', ')), what).toEqual(expected);
        contract.expectComponent('Error', res.body);
        expect(res.body.error.code, what).toBe('method_not_allowed');
      }
    }
  });
});
