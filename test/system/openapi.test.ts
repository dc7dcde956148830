/**
 * openapi.yaml against the real server: every answer below comes from a running gateway (the real
 * Claude CLI talking to the mock Anthropic API, or the fake CLI for faults) and is validated with
 * openapi-backend against the document, bodies and headers; streamed chunks and WebSocket messages
 * against their component schemas, compiled by the same library (test/support/openapi-contract.ts).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { OpenAPIBackend } from 'openapi-backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse } from 'yaml';
import { CLAUDE_CODE_TOOLS, FUNCTION_NAME } from '../../providers/claude-cli/tool-policy.js';
import { TOOL_RULE, chatCompletionChunkSchema, chatCompletionRequestSchema, chatCompletionSchema } from '../../src/openai/schemas.js';
import {
  eventTypeSchema,
  gatewayEventSchema,
  processRecordSchema,
  processStatusSchema,
  requiredActionSchema,
} from '../../src/core/process-types.js';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { type Answer, type Contract, type Json, doc, openContract, specText, sseData } from '../support/openapi-contract.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

let contract: Contract;
let api: OpenAPIBackend;
const componentValidator = (name: string) => contract.componentValidator(name);
const expectDocumented = (operationId: string, res: Answer) => contract.expectDocumented(operationId, res);
const expectComponent = (name: string, value: unknown) => contract.expectComponent(name, value);

let mock: MockUpstream;
/** The real CLI against the mock upstream. */
let real: TestGateway;
/** The fake CLI (faults, slow streams), with a small body limit. */
let fake: TestGateway;
const extra: TestGateway[] = [];

async function call(gw: TestGateway, method: string, url: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  let payload: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(gw.url + url, { method, headers, body: payload });
  const text = await res.text();
  let body: Json = text;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) body = JSON.parse(text);
  return { status: res.status, headers: Object.fromEntries(res.headers), text, body };
}

function expectError(res: Answer, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.body.error.code).toBe(code);
}

const completion = (content: string, fields: Record<string, unknown> = {}) => ({
  model: 'claude-cli/haiku',
  messages: [{ role: 'user', content }],
  ...fields,
});

/** A client function tool (not a Claude Code tool). */
const fn = (name: string, parameters: Record<string, unknown> = { type: 'object', properties: {} }) => ({
  type: 'function',
  function: { name, description: `the ${name} function`, parameters },
});

/** The request body is one the document allows (requests are checked as well as answers). */
function expectValidRequest(body: unknown): void {
  const result = api.validator.validateRequest({ method: 'post', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body }, 'createChatCompletion');
  expect(result.errors, `request ${JSON.stringify(body).slice(0, 800)}`).toBeNull();
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Subscriber {
  ws: WebSocket;
  messages: Json[];
  close(): void;
}

function wsUrl(gw: TestGateway, query = ''): string {
  return `${gw.url.replace(/^http/, 'ws')}/v1/events${query}`;
}

function subscribe(gw: TestGateway, query = '', headers: Record<string, string> = {}): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(gw, query), { headers });
    const messages: Json[] = [];
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      messages.push(JSON.parse(data.toString('utf8')));
    });
    ws.once('open', () => resolve({ ws, messages, close: () => ws.close() }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A refused WebSocket handshake: the plain HTTP answer. */
function refusedHandshake(gw: TestGateway, query = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(gw, query));
    ws.once('open', () => {
      ws.close();
      reject(new Error('the handshake was accepted'));
    });
    ws.once('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)]));
        resolve({ status: res.statusCode ?? 0, headers, text, body: JSON.parse(text) });
        ws.terminate();
      });
    });
  });
}

/** `{id}` → `:id`; a path parameter that may contain `/` (model ids) is Fastify's wildcard. */
function fastifyPath(specPath: string): string {
  if (specPath === '/v1/models/{model}') return '/v1/models/*';
  return specPath.replace(/\{(\w+)\}/g, ':$1');
}

/** The routes the app registers, from Fastify's route tree (HEAD twins of GET routes left out). */
function registeredRoutes(gw: TestGateway): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of gw.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    // A wildcard segment is printed without the '/' before it (`/v1/models` → `*`).
    const segment = m[2]!;
    const joined = stack.join('');
    stack.push(segment.startsWith('*') && !joined.endsWith('/') ? `/${segment}` : segment);
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) {
      out.add(`${method} ${stack.join('').replace(/\/+/g, '/')}`);
    }
  }
  return out;
}

beforeAll(async () => {
  contract = await openContract();
  api = contract.api;

  mock = await startMockAnthropic();
  [real, fake] = await Promise.all([
    startGateway({ mock, env: { ALLOWED_TOOLS: 'Read' } }),
    startGateway({ fake: true, env: { BODY_LIMIT_BYTES: '2048' } }),
  ]);
});

afterAll(async () => {
  await Promise.allSettled([real, fake, ...extra].filter(Boolean).map((gw) => gw.close()));
  await mock?.close();
});

async function extraGateway(env: Record<string, string>, parentEnv?: Record<string, string>): Promise<TestGateway> {
  const gw = await startGateway({ fake: true, env, parentEnv });
  extra.push(gw);
  return gw;
}

describe('the document', () => {
  it('is OpenAPI 3.1 and loads into openapi-backend with every validator compiled', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const ops = api.getOperations();
    expect(ops.length).toBeGreaterThanOrEqual(13);
    const ids = ops.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of ops) {
      expect(op.operationId, `${op.method} ${op.path}`).toBeTruthy();
      for (const [status, res] of Object.entries(op.responses ?? {})) {
        expect((res as Json).description, `${op.operationId} ${status}`).toBeTruthy();
      }
      // /v1 needs the bearer key when GATEWAY_API_KEYS is set, and only then (`{}`: no key is fine
      // too); nothing else ever does.
      const schemes = (op.security ?? doc.security ?? []).flatMap((s: Json) => Object.keys(s));
      if (op.path.startsWith('/v1/')) {
        expect(schemes, op.operationId).toContain('bearerAuth');
        expect(op.security, op.operationId).toContainEqual({});
      } else expect(schemes, op.operationId).toEqual([]);
    }
    for (const name of ['ChatCompletionChunk', 'GatewayEvent', 'Error', 'Process', 'ChatCompletion']) componentValidator(name);
  });

  it('rejects what it forbids (the validators are not vacuous)', () => {
    const error = { error: { message: 'm', type: 't', param: null, code: null } };
    expect(api.validator.validateResponse(error, 'getProcess', 404).valid).toBe(true);
    expect(api.validator.validateResponse({ error: { ...error.error, param: 1 } }, 'getProcess', 404).valid).toBe(false);
    expect(api.validator.validateResponse({ ...error, extra: true }, 'getProcess', 404).valid).toBe(false);
    expect(api.validator.validateResponse({ id: 'proc_1', object: 'process' }, 'getProcess', 200).valid).toBe(false);
    const chunk = {
      id: `chatcmpl-${'0'.repeat(32)}`,
      object: 'chat.completion.chunk',
      created: 1767225600,
      model: 'sonnet',
      choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null, logprobs: null }],
    };
    expect(componentValidator('ChatCompletionChunk')(chunk).valid).toBe(true);
    expect(componentValidator('ChatCompletionChunk')({ ...chunk, created: 1767225600.5 }).valid).toBe(false);
    expect(componentValidator('ChatCompletionChunk')({ ...chunk, choices: [{ ...chunk.choices[0], finish_reason: 'done' }] }).valid).toBe(false);
    const event = { seq: 1, type: 'PROCESS_QUEUED', ts: 1767225600.123, process_id: 'p', session_id: 's', status: 'queued', model: 'm', key_id: null };
    expect(componentValidator('GatewayEvent')(event).valid).toBe(true);
    expect(componentValidator('GatewayEvent')({ ...event, type: 'PROCESS_DONE' }).valid).toBe(false);
    expect(componentValidator('GatewayEvent')({ ...event, seq: undefined }).valid).toBe(false);
    // Function calling: streamed call deltas, the wait, the stop record.
    const callDelta = { index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '' } };
    const withCall = (d: unknown) => ({ ...chunk, choices: [{ ...chunk.choices[0], delta: { tool_calls: [d] } }] });
    expect(componentValidator('ChatCompletionChunk')(withCall(callDelta)).valid).toBe(true);
    expect(componentValidator('ChatCompletionChunk')(withCall({ index: 0, function: { arguments: '{"a' } })).valid).toBe(true);
    expect(componentValidator('ChatCompletionChunk')(withCall({ index: 0, function: { name: 'f' } })).valid).toBe(false);
    expect(componentValidator('ChatCompletionChunk')(withCall({ ...callDelta, index: -1 })).valid).toBe(false);
    const requiredAction = { type: 'submit_tool_outputs', tool_call_ids: ['toolu_1'], expires_at: 1767225600.5 };
    const waiting = { ...event, type: 'PROCESS_REQUIRES_ACTION', status: 'requires_action', required_action: requiredAction };
    expect(componentValidator('GatewayEvent')(waiting).valid).toBe(true);
    expect(componentValidator('GatewayEvent')({ ...waiting, status: 'waiting' }).valid).toBe(false);
    expect(componentValidator('GatewayEvent')({ ...waiting, required_action: { ...requiredAction, type: 'tool_outputs' } }).valid).toBe(false);
    const stop = { type: 'tool_calls', session_id: 's', stop_reason: 'tool_use', tool_calls: [{ id: 'toolu_1', name: 'f', arguments: '{}' }], waiting_for: ['toolu_1'] };
    expect(componentValidator('ClaudeMetadata')(stop).valid).toBe(true);
    expect(componentValidator('ClaudeMetadata')({ ...stop, waiting_for: undefined }).valid).toBe(false);
    expect(componentValidator('ClaudeMetadata')({ ...stop, type: 'result' }).valid).toBe(false);
  });

  it('names the same fields, enums and patterns as the zod schemas the server uses', () => {
    const schemas = doc.components!.schemas as Json;
    const props = (name: string) => Object.keys(schemas[name].properties).sort();
    expect(props('ChatCompletionRequest')).toEqual(Object.keys(chatCompletionRequestSchema.shape).sort());
    expect(schemas.ChatCompletionRequest.required).toEqual(['model', 'messages']);
    expect(props('ChatCompletion')).toEqual(Object.keys(chatCompletionSchema.shape).sort());
    expect(props('ChatCompletionChunk')).toEqual(Object.keys(chatCompletionChunkSchema.shape).sort());
    // `meta` is the front door's own, never shown on /v1/processes (src/openai/records.ts).
    expect(props('Process')).toEqual(Object.keys(processRecordSchema.shape).filter((k) => k !== 'meta').sort());
    expect(props('GatewayEvent')).toEqual([...new Set(gatewayEventSchema.options.flatMap((o) => Object.keys(o.shape)))].sort());
    expect(schemas.ProcessStatus.enum).toEqual(processStatusSchema.options);
    expect(schemas.GatewayEventType.enum).toEqual(eventTypeSchema.options);
    expect(schemas.ToolRule.pattern).toBe(TOOL_RULE.source);
    const toolNames = schemas.FunctionTool.properties.function.properties.name.description as string;
    for (const tool of CLAUDE_CODE_TOOLS) expect(toolNames).toContain(tool);
    expect(schemas.FunctionTool.properties.function.properties.name.pattern).toBe(FUNCTION_NAME.source);

    // Function calling: the message, the streamed delta, the tool calls, response_format, the wait.
    const zodShape = (s: Json): Json => s.shape ?? s.unwrap?.().shape ?? s.unwrap?.().unwrap?.().shape;
    const zodItem = (s: Json): Json => {
      while (!s.element) s = s.unwrap();
      return s.element;
    };
    const choice = zodShape(zodItem(chatCompletionSchema.shape.choices));
    const message = schemas.ChatCompletion.properties.choices.items.properties.message;
    expect(Object.keys(message.properties).sort()).toEqual(Object.keys(choice.message.shape).sort());
    expect(Object.keys(schemas.ToolCall.properties).sort()).toEqual(Object.keys(zodItem(choice.message.shape.tool_calls).shape).sort());
    const chunkChoice = zodShape(zodItem(chatCompletionChunkSchema.shape.choices));
    const delta = schemas.ChatCompletionChunk.properties.choices.items.properties.delta;
    expect(Object.keys(delta.properties).sort()).toEqual(Object.keys(chunkChoice.delta.shape).sort());
    const toolCallDelta = zodItem(chunkChoice.delta.shape.tool_calls);
    expect(Object.keys(schemas.ToolCallDelta.properties).sort()).toEqual(Object.keys(toolCallDelta.shape).sort());
    expect([...schemas.ToolCallDelta.required].sort()).toEqual(
      Object.entries(toolCallDelta.shape as Record<string, Json>).filter(([, v]) => !v.safeParse(undefined).success).map(([k]) => k).sort(),
    );
    const formats = (chatCompletionRequestSchema.shape.response_format as Json).unwrap().unwrap().options as Json[];
    expect(schemas.ResponseFormat.oneOf.map((o: Json) => o.properties.type.const)).toEqual(formats.map((f) => f.shape.type.value));
    expect(Object.keys(schemas.ResponseFormat.oneOf[2].properties.json_schema.properties).sort()).toEqual(
      Object.keys(formats[2].shape.json_schema.shape).sort(),
    );
    expect(Object.keys(schemas.RequiredAction.properties).sort()).toEqual(Object.keys(requiredActionSchema.shape).sort());
    expect([...schemas.RequiredAction.required].sort()).toEqual(Object.keys(requiredActionSchema.shape).sort());
  });

  it('documents exactly the routes the app registers', () => {
    const documented = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths as Json)) {
      for (const m of METHODS) if ((item as Json)[m]) documented.add(`${m.toUpperCase()} ${fastifyPath(p)}`);
    }
    for (const route of documented) {
      const [method, url] = route.split(' ') as [string, string];
      expect(real.app.hasRoute({ method: method as 'GET', url }), `${route} is documented but not registered`).toBe(true);
    }
    const registered = registeredRoutes(real);
    expect(registered.size).toBeGreaterThanOrEqual(documented.size);
    // Swagger UI's own assets and its trailing-slash twin of /docs are described in /docs.
    const undocumented = [...registered].filter(
      (r) => !documented.has(r) && !r.startsWith('GET /docs/static/') && r !== 'GET /docs/' && r !== 'GET /docs/*',
    );
    expect(undocumented).toEqual([]);
  });

  it('is what /openapi.yaml and /docs serve', async () => {
    const yaml = await call(real, 'GET', '/openapi.yaml');
    expectDocumented('getOpenApiDocument', yaml);
    expect(yaml.text).toBe(specText);
    const html = await call(real, 'GET', '/docs');
    expectDocumented('getDocs', html);
    expect(html.text).toContain('swagger-ui');
    const json = await call(real, 'GET', '/docs/json');
    expectDocumented('getDocsJson', json);
    expect(json.body).toEqual(doc);
    const docsYaml = await call(real, 'GET', '/docs/yaml');
    expectDocumented('getDocsYaml', docsYaml);
    expect(parse(docsYaml.text)).toEqual(doc);
  });
});

describe('health and models', () => {
  it('/health and /ready', async () => {
    expectDocumented('health', await call(real, 'GET', '/health'));
    const ready = await call(real, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expectDocumented('ready', ready);
    expect(ready.body.pool, 'the pool is on by default').toBeDefined();
    // Without credentials for the CLI (an empty key is none): still ready, with a warning.
    const off = await extraGateway({ POOL_SIZE: '0' }, { ANTHROPIC_API_KEY: '' });
    const noPool = await call(off, 'GET', '/ready');
    expectDocumented('ready', noPool);
    expect(noPool.body.warnings).toEqual([expect.stringContaining('the Claude CLI has no credentials')]);
  });

  it('/metrics', async () => {
    const metrics = await call(real, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expectDocumented('getMetrics', metrics);
    expect(metrics.text).toContain('# TYPE gateway_http_requests_total counter');
  });

  it('/ready and completions answer 503 when the CLI is missing', async () => {
    const broken = await extraGateway({ CLAUDE_BIN: path.join(fake.dir, 'no-such-claude') });
    const ready = await call(broken, 'GET', '/ready');
    expectError(ready, 503, 'claude_not_found');
    expectDocumented('ready', ready);
    for (const stream of [false, true]) {
      const res = await call(broken, 'POST', '/v1/chat/completions', { body: completion('hi', { stream }) });
      expectError(res, 503, 'claude_not_found');
      expectDocumented('createChatCompletion', res);
    }
  });

  it('/v1/models and /v1/models/{model}', async () => {
    const list = await call(real, 'GET', '/v1/models');
    expectDocumented('listModels', list);
    expect(list.body.data.map((m: Json) => m.id)).toContain('claude-cli/sonnet');
    const one = await call(real, 'GET', '/v1/models/claude-cli/sonnet');
    expectDocumented('retrieveModel', one);
    expect(one.body.id).toBe('claude-cli/sonnet');
    const encoded = await call(real, 'GET', '/v1/models/claude-cli%2Fsonnet');
    expect(encoded.body).toEqual(one.body);
    const missing = await call(real, 'GET', '/v1/models/claude-cli/gpt-4o');
    expectError(missing, 404, 'model_not_found');
    expectDocumented('retrieveModel', missing);
  });
});

describe('chat completions', () => {
  it('200 chat.completion from the real CLI, with its headers', async () => {
    mock.on('CAPITAL', { text: 'Paris.', usage: { input_tokens: 12, output_tokens: 3, cache_read_input_tokens: 4 } });
    const res = await call(real, 'POST', '/v1/chat/completions', {
      body: {
        ...completion('CAPITAL of France?'),
        messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: [{ type: 'text', text: 'CAPITAL of France?' }] }],
        temperature: 0.2,
        max_tokens: 50,
        stop: ['\n'],
      },
    });
    expect(res.status, res.text).toBe(200);
    expectDocumented('createChatCompletion', res);
    expect(res.body.choices[0].message.content).toBe('Paris.');
    // OpenAI's schema has it a string or absent, never null: the gateway has none to give.
    expect(res.body).not.toHaveProperty('system_fingerprint');
    expect(res.body.usage.prompt_tokens_details.cached_tokens).toBe(4);
    expect(res.headers['x-process-id']).toBe(res.body.process_id);
  });

  it('400 for bad bodies', async () => {
    const cases: [Answer, string][] = [
      [await call(fake, 'POST', '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }] } }), 'missing_required_parameter'],
      [await call(fake, 'POST', '/v1/chat/completions', { raw: '{"model":', headers: { 'content-type': 'application/json' } }), 'invalid_json'],
      [await call(fake, 'POST', '/v1/chat/completions', { raw: '<a/>', headers: { 'content-type': 'application/xml' } }), 'unsupported_media_type'],
      [await call(fake, 'POST', '/v1/chat/completions', { raw: 'hello', headers: { 'content-type': 'text/plain' } }), 'invalid_value'],
      [await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { session_id: 'not-a-uuid' }) }), 'invalid_value'],
      [await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { temperature: 7 }) }), 'invalid_value'],
      [
        await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { tools: [{ type: 'function', function: { name: 'Bash' } }] }) }),
        'tool_not_allowed',
      ],
      [await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { tools: [fn('get weather')] }) }), 'invalid_function_name'],
      [await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { tools: [fn('f'), fn('f')] }) }), 'duplicate_function'],
      [
        await call(fake, 'POST', '/v1/chat/completions', {
          body: completion('hi', { tools: [fn('f')], tool_choice: { type: 'function', function: { name: 'g' } } }),
        }),
        'unknown_function',
      ],
      [
        await call(fake, 'POST', '/v1/chat/completions', {
          body: {
            model: 'haiku',
            tools: [fn('f')],
            messages: [
              { role: 'user', content: 'hi' },
              { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
              { role: 'tool', tool_call_id: 'call_1', content: 'r' },
              { role: 'user', content: 'and?' },
            ],
          },
        }),
        'invalid_tool_results',
      ],
      [await call(fake, 'POST', '/v1/chat/completions', { body: completion('hi', { response_format: { type: 'xml' } }) }), 'invalid_value'],
    ];
    for (const [res, code] of cases) {
      expectError(res, 400, code);
      expectDocumented('createChatCompletion', res);
    }
    expect(cases[0]![0].body.error.param).toBe('model');
  });

  it('404 for an unknown model or session, 413 for a large body', async () => {
    const model = await call(fake, 'POST', '/v1/chat/completions', { body: { ...completion('hi'), model: 'gpt-4o' } });
    expectError(model, 404, 'model_not_found');
    expectDocumented('createChatCompletion', model);
    const session = await call(fake, 'POST', '/v1/chat/completions', {
      body: completion('hi', { session_id: '3f1c7f8e-2b4a-4c8e-9d61-0c5e2a7b9e10' }),
    });
    expectError(session, 404, 'session_not_found');
    expectDocumented('createChatCompletion', session);
    const large = await call(fake, 'POST', '/v1/chat/completions', { body: completion('x'.repeat(4096)) });
    expectError(large, 413, 'payload_too_large');
    expectDocumented('createChatCompletion', large);
  });

  it('502 when the CLI prints garbage, 504 past the deadline', async () => {
    const garbage = await call(fake, 'POST', '/v1/chat/completions', { body: completion('FAKE_GARBAGE') });
    expectError(garbage, 502, 'bad_cli_output');
    expectDocumented('createChatCompletion', garbage);
    const slow = await extraGateway({ REQUEST_TIMEOUT_MS: '300' });
    const late = await call(slow, 'POST', '/v1/chat/completions', { body: completion('FAKE_HANG') });
    expectError(late, 504, 'deadline_exceeded');
    expectDocumented('createChatCompletion', late);
  });

  it('429 with Retry-After when the queue is full', async () => {
    const tight = await extraGateway({ MAX_CONCURRENCY: '1', MAX_QUEUE: '0' });
    const busy = await call(tight, 'POST', '/v1/chat/completions', { body: completion('FAKE_SLOW_STREAM', { background: true }) });
    expect(busy.status).toBe(202);
    const full = await call(tight, 'POST', '/v1/chat/completions', { body: completion('hi') });
    expectError(full, 429, 'queue_full');
    expectDocumented('createChatCompletion', full);
    expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const streamed = await call(tight, 'POST', '/v1/chat/completions', { body: completion('hi', { stream: true }) });
    expectError(streamed, 429, 'queue_full');
    expectDocumented('createChatCompletion', streamed);
    await call(tight, 'DELETE', `/v1/processes/${busy.body.id}`);
  });

  it('streams chat.completion.chunk events that match the chunk schema, then [DONE]', async () => {
    mock.on('STREAMME', { text: ['Hel', 'lo, ', 'world'], chunkDelayMs: 5 });
    const res = await call(real, 'POST', '/v1/chat/completions', {
      body: completion('STREAMME please', { stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expectDocumented('createChatCompletion', res);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    for (const chunk of chunks) expectComponent('ChatCompletionChunk', chunk);
    for (const chunk of chunks) expect(chunk).not.toHaveProperty('system_fingerprint');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks[0].process_id).toBe(res.headers['x-process-id']);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello, world');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage.total_tokens).toBeGreaterThan(0);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('ends a failed stream with an error event matching the Error schema, without [DONE]', async () => {
    const res = await call(fake, 'POST', '/v1/chat/completions', { body: completion('FAKE_CRASH', { stream: true }) });
    expect(res.status).toBe(200);
    const data = sseData(res.text);
    expect(data).not.toContain('[DONE]');
    const events = data.map((d) => JSON.parse(d));
    for (const chunk of events.slice(0, -1)) expectComponent('ChatCompletionChunk', chunk);
    expectComponent('Error', events.at(-1));
    expect(events.at(-1).error.code).toBe('bad_cli_output');
  });
});

describe('sessions', () => {
  it('list, get, busy, delete and unknown sessions match the document', async () => {
    const first = await call(fake, 'POST', '/v1/chat/completions', { body: completion('a session to list') });
    expect(first.status, first.text).toBe(200);
    const sid: string = first.body.session_id;
    const list = await call(fake, 'GET', '/v1/sessions?limit=1');
    expectDocumented('listSessions', list);
    expect(list.body.data[0]).toMatchObject({ id: sid, object: 'session', provider: 'claude-cli', turns: 1 });
    expectDocumented('listSessions', await call(fake, 'GET', `/v1/sessions?after=${sid}`));
    const one = await call(fake, 'GET', `/v1/sessions/${sid}`);
    expectDocumented('getSession', one);
    expect(one.body.processes).toEqual([first.body.process_id]);

    const hanging = await call(fake, 'POST', '/v1/chat/completions', { body: completion('FAKE_HANG', { session_id: sid, background: true }) });
    const busy = await call(fake, 'DELETE', `/v1/sessions/${sid}`);
    expectError(busy, 409, 'session_busy');
    expectDocumented('deleteSession', busy);
    await call(fake, 'DELETE', `/v1/processes/${hanging.body.id}`);
    const deleted = await call(fake, 'DELETE', `/v1/sessions/${sid}?purge=true`);
    expectDocumented('deleteSession', deleted);
    expect(deleted.body).toMatchObject({ id: sid, deleted: true });

    for (const [method, op] of [['GET', 'getSession'], ['DELETE', 'deleteSession']] as const) {
      const gone = await call(fake, method, `/v1/sessions/${sid}`);
      expectError(gone, 404, 'session_not_found');
      expectDocumented(op, gone);
      const bad = await call(fake, method, '/v1/sessions/not-a-uuid');
      expectError(bad, 400, 'invalid_value');
      expectDocumented(op, bad);
    }
    for (const query of ['limit=0', 'after=nope']) expectDocumented('listSessions', await call(fake, 'GET', `/v1/sessions?${query}`));
  });
});

describe('usage', () => {
  it('totals, groups and bad queries match the document', async () => {
    expect((await call(fake, 'POST', '/v1/chat/completions', { body: completion('usage to report') })).status).toBe(200);
    for (const query of ['', '?group_by=key,model,day', '?group_by=model&from=0&to=99999999999', '?key_id=nobody']) {
      const res = await call(fake, 'GET', `/v1/usage${query}`);
      expect(res.status, res.text).toBe(200);
      expectDocumented('getUsage', res);
    }
    for (const query of ['group_by=week', 'from=-1', 'to=1.5']) {
      const bad = await call(fake, 'GET', `/v1/usage?${query}`);
      expectError(bad, 400, 'invalid_value');
      expectDocumented('getUsage', bad);
    }
  });
});

describe('processes and events', () => {
  it('202 background process, followed on /v1/processes and on the WebSocket', async () => {
    const sub = await subscribe(real);
    try {
      mock.on('BACKGROUND', { text: 'done in the background', firstByteDelayMs: 50 });
      const accepted = await call(real, 'POST', '/v1/chat/completions', { body: completion('BACKGROUND job', { background: true }) });
      expect(accepted.status, accepted.text).toBe(202);
      expectDocumented('createChatCompletion', accepted);
      const id: string = accepted.body.id;
      expect(['queued', 'running']).toContain(accepted.body.status);

      const done = await waitFor('the process to complete', async () => {
        const res = await call(real, 'GET', `/v1/processes/${id}`);
        expectDocumented('getProcess', res);
        return res.body.status === 'completed' ? res : undefined;
      });
      expect(done.body.result.choices[0].message.content).toBe('done in the background');
      expect(done.body.completed_at).toBeGreaterThanOrEqual(done.body.started_at);

      const events = await waitFor('PROCESS_COMPLETE on the socket', () => {
        const mine = sub.messages.filter((m) => m.process_id === id);
        return mine.some((m) => m.type === 'PROCESS_COMPLETE') ? mine : undefined;
      });
      expect(events.map((e) => e.type)).toEqual(['PROCESS_QUEUED', 'PROCESS_STARTED', 'PROCESS_COMPLETE']);
      for (const e of sub.messages) expectComponent('GatewayEvent', e);

      // `since` replays what was missed, with the same messages.
      const replay = await subscribe(real, `?since=0&process_id=${id}&types=PROCESS_QUEUED,PROCESS_COMPLETE`);
      try {
        const replayed = await waitFor('the replay', () => (replay.messages.length >= 2 ? replay.messages : undefined));
        for (const e of replayed) expectComponent('GatewayEvent', e);
        expect(replayed).toEqual(events.filter((e) => e.type !== 'PROCESS_STARTED'));
      } finally {
        replay.close();
      }

      const page = await call(real, 'GET', `/v1/processes?session_id=${done.body.session_id}&limit=5`);
      expectDocumented('listProcesses', page);
      expect(page.body.data.map((p: Json) => p.id)).toEqual([id]);
      const all = await call(real, 'GET', '/v1/processes?limit=1');
      expectDocumented('listProcesses', all);
      const next = await call(real, 'GET', `/v1/processes?limit=1&after=${all.body.last_id}`);
      expectDocumented('listProcesses', next);
      const empty = await call(real, 'GET', '/v1/processes?status=queued');
      expectDocumented('listProcesses', empty);
      expect(empty.body).toMatchObject({ data: [], first_id: null, last_id: null, has_more: false });

      const finished = await call(real, 'DELETE', `/v1/processes/${id}`);
      expectDocumented('cancelProcess', finished);
      expect(finished.body).toEqual(done.body);
    } finally {
      sub.close();
    }
  });

  it('tool activity events of a streamed run match GatewayEvent', async () => {
    const file = path.join(real.config.workdir, 'notes.txt');
    writeFileSync(file, 'the notes say hello\n');
    mock.on('READ_NOTES', { kind: 'tool_use', name: 'Read', input: { file_path: file } });
    const sub = await subscribe(real, '?types=PROCESS_TOOL_USE,PROCESS_TOOL_RESULT,PROCESS_COMPLETE');
    try {
      const res = await call(real, 'POST', '/v1/chat/completions', {
        body: completion('READ_NOTES now', { stream: true, tools: [{ type: 'function', function: { name: 'Read' } }] }),
      });
      expect(res.status).toBe(200);
      for (const d of sseData(res.text).slice(0, -1)) expectComponent('ChatCompletionChunk', JSON.parse(d));
      const pid = res.headers['x-process-id'];
      const events = await waitFor('tool events', () => {
        const mine = sub.messages.filter((m) => m.process_id === pid);
        return mine.some((m) => m.type === 'PROCESS_COMPLETE') ? mine : undefined;
      });
      expect(events.map((e) => e.type)).toEqual(['PROCESS_TOOL_USE', 'PROCESS_TOOL_RESULT', 'PROCESS_COMPLETE']);
      for (const e of events) expectComponent('GatewayEvent', e);
      expect(events[0]).toMatchObject({ name: 'Read', input: { file_path: file } });
      expect(events[1]).toMatchObject({ tool_use_id: events[0].tool_use_id, is_error: false });
      expect(JSON.stringify(events[1].content)).toContain('the notes say hello');
    } finally {
      sub.close();
    }
  });

  it('DELETE cancels a running process; unknown processes are 404; bad queries 400', async () => {
    const sub = await subscribe(fake, '?types=PROCESS_COMPLETE');
    try {
      const accepted = await call(fake, 'POST', '/v1/chat/completions', { body: completion('FAKE_SLOW_STREAM', { background: true }) });
      expectDocumented('createChatCompletion', accepted);
      const cancelled = await call(fake, 'DELETE', `/v1/processes/${accepted.body.id}`);
      expectDocumented('cancelProcess', cancelled);
      expect(cancelled.body.status).toBe('cancelled');
      expect(cancelled.body.error.code).toBe('cancelled');
      const [event] = await waitFor('the cancel event', () => (sub.messages.length ? sub.messages : undefined));
      expectComponent('GatewayEvent', event);
      expect(event).toMatchObject({ type: 'PROCESS_COMPLETE', status: 'cancelled', process_id: accepted.body.id });
    } finally {
      sub.close();
    }

    const unknown = 'proc_00000000000000000000000000000000';
    for (const [method, op] of [['GET', 'getProcess'], ['DELETE', 'cancelProcess']] as const) {
      const res = await call(fake, method, `/v1/processes/${unknown}`);
      expectError(res, 404, 'process_not_found');
      expectDocumented(op, res);
    }
    for (const query of ['limit=0', 'after=nope', 'status=done', 'session_id=x']) {
      const res = await call(fake, 'GET', `/v1/processes?${query}`);
      expectError(res, 400, 'invalid_value');
      expectDocumented('listProcesses', res);
    }
    const wsBad = await refusedHandshake(fake, '?types=PROCESS_DONE');
    expectError(wsBad, 400, 'invalid_value');
    expectDocumented('subscribeEvents', wsBad);

    const plain = await call(fake, 'GET', '/v1/events?types=PROCESS_COMPLETE');
    expectError(plain, 426, 'upgrade_required');
    expectDocumented('subscribeEvents', plain);

    const route = await call(fake, 'GET', '/v1/nothing-here');
    expectError(route, 404, 'unknown_route');
    expectComponent('Error', route.body);
    // A path that exists under other methods (test/spec-fuzz.test.ts tries every undeclared one).
    const method = await call(fake, 'PUT', `/v1/processes/${unknown}`);
    expectError(method, 405, 'method_not_allowed');
    expectComponent('Error', method.body);
    expect(method.headers.allow).toBe('GET, HEAD, DELETE');
  });
});

describe('function calling', () => {
  const weather = fn('get_weather', { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] });
  const clock = fn('get_time', { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] });

  it('tool_calls answer, requires_action process and event, continuation by tool_call_id', async () => {
    const sub = await subscribe(real, '?types=PROCESS_REQUIRES_ACTION,PROCESS_COMPLETE');
    try {
      mock.on('OAS_WEATHER', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' }, text: 'Let me check.' });
      const messages: Json[] = [{ role: 'user', content: 'OAS_WEATHER in Paris?' }];
      // Claude Code tools and client functions together: only the client's come back as tool_calls.
      const ask = { model: 'claude-cli/haiku', messages, tools: [weather, { type: 'function', function: { name: 'Read' } }] };
      expectValidRequest(ask);
      const first = await call(real, 'POST', '/v1/chat/completions', { body: ask });
      expect(first.status, first.text).toBe(200);
      expectDocumented('createChatCompletion', first);
      const choice = first.body.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBe('Let me check.');
      expect(choice.message.tool_calls).toHaveLength(1);
      const toolCall = choice.message.tool_calls[0];
      expect(toolCall.function.name).toBe('get_weather');
      expect(JSON.parse(toolCall.function.arguments)).toEqual({ location: 'Paris' });
      const pid: string = first.body.process_id;

      const waiting = await call(real, 'GET', `/v1/processes/${pid}`);
      expectDocumented('getProcess', waiting);
      expect(waiting.body).toMatchObject({ status: 'requires_action', completed_at: null, error: null, result: first.body });
      expect(waiting.body.required_action).toMatchObject({ type: 'submit_tool_outputs', tool_call_ids: [toolCall.id] });
      expect(waiting.body.required_action.expires_at).toBeGreaterThan(Date.now() / 1000);
      const listed = await call(real, 'GET', '/v1/processes?status=requires_action');
      expectDocumented('listProcesses', listed);
      expect(listed.body.data.map((p: Json) => p.id)).toContain(pid);
      const ready = await call(real, 'GET', '/ready');
      expectDocumented('ready', ready);
      expect(ready.body.pool.waiting).toBeGreaterThanOrEqual(1);

      const [action] = await waitFor('PROCESS_REQUIRES_ACTION', () => {
        const mine = sub.messages.filter((m) => m.process_id === pid);
        return mine.length ? mine : undefined;
      });
      expectComponent('GatewayEvent', action);
      expect(action).toMatchObject({ type: 'PROCESS_REQUIRES_ACTION', status: 'requires_action', result: first.body });
      expect(action.required_action).toEqual(waiting.body.required_action);

      // The continuation: the whole conversation ending with the tool result, no session_id.
      mock.on('OAS_SUNNY', { text: 'Sunny in Paris.' });
      const answer = { ...ask, messages: [...messages, choice.message, { role: 'tool', tool_call_id: toolCall.id, content: 'OAS_SUNNY 22C' }] };
      expectValidRequest(answer);
      const second = await call(real, 'POST', '/v1/chat/completions', { body: answer });
      expect(second.status, second.text).toBe(200);
      expectDocumented('createChatCompletion', second);
      expect(second.body.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Sunny in Paris.' } });
      expect(second.body.session_id).toBe(first.body.session_id);
      expect(second.body.process_id).not.toBe(pid);

      const settled = await call(real, 'GET', `/v1/processes/${pid}`);
      expectDocumented('getProcess', settled);
      expect(settled.body).toMatchObject({ status: 'completed', required_action: null, error: null, result: first.body });
      const complete = await waitFor('PROCESS_COMPLETE of the waiting process', () =>
        sub.messages.find((m) => m.process_id === pid && m.type === 'PROCESS_COMPLETE'),
      );
      expectComponent('GatewayEvent', complete);
      expect(complete.status).toBe('completed');
      for (const e of sub.messages) expectComponent('GatewayEvent', e);
    } finally {
      sub.close();
    }
  });

  it('streamed parallel tool calls match the chunk schema; DELETE cancels the wait; a late answer gets a fresh run', async () => {
    mock.on('OAS_STREAM_CALLS', {
      kind: 'tool_use',
      name: 'mcp__client__get_weather',
      input: { location: 'Lisbon, Portugal' },
      text: 'Checking both.',
      more: [{ name: 'mcp__client__get_time', input: { zone: 'Europe/Lisbon' } }],
    });
    const messages: Json[] = [{ role: 'user', content: 'OAS_STREAM_CALLS for Lisbon' }];
    const ask = { model: 'claude-cli/haiku', messages, tools: [weather, clock], stream: true, stream_options: { include_usage: true } };
    expectValidRequest(ask);
    const res = await call(real, 'POST', '/v1/chat/completions', { body: ask });
    expect(res.status).toBe(200);
    expectDocumented('createChatCompletion', res);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    for (const chunk of chunks) expectComponent('ChatCompletionChunk', chunk);
    const calls: Json[] = [];
    for (const chunk of chunks) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (d.id) {
          expect(d.function.name, 'a call starts with its id and name').toBeDefined();
          calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: '' } };
        }
        calls[d.index].function.arguments += d.function.arguments;
      }
    }
    expect(calls.map((c) => c.function.name)).toEqual(['get_weather', 'get_time']);
    expect(calls.map((c) => JSON.parse(c.function.arguments))).toEqual([{ location: 'Lisbon, Portugal' }, { zone: 'Europe/Lisbon' }]);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Checking both.');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1).usage.total_tokens).toBeGreaterThan(0);

    const pid = res.headers['x-process-id']!;
    const waiting = await call(real, 'GET', `/v1/processes/${pid}`);
    expectDocumented('getProcess', waiting);
    expect(waiting.body.status).toBe('requires_action');
    expect(waiting.body.required_action.tool_call_ids).toEqual(calls.map((c) => c.id));
    expect(waiting.body.result.choices[0].message.tool_calls).toEqual(calls);

    const cancelled = await call(real, 'DELETE', `/v1/processes/${pid}`);
    expectDocumented('cancelProcess', cancelled);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', required_action: null, error: { code: 'cancelled' } });
    expect(cancelled.body.result).toEqual(waiting.body.result);

    // No run waits any more: a fresh run gets the whole conversation, calls and results included.
    mock.on('OAS_LATE_RESULT', { text: 'Answered from the transcript.' });
    const late = {
      model: 'claude-cli/haiku',
      tools: [weather, clock],
      messages: [
        ...messages,
        { role: 'assistant', content: 'Checking both.', tool_calls: calls },
        { role: 'tool', tool_call_id: calls[0].id, content: 'OAS_LATE_RESULT rain' },
        { role: 'tool', tool_call_id: calls[1].id, content: '14:00' },
      ],
    };
    expectValidRequest(late);
    const fresh = await call(real, 'POST', '/v1/chat/completions', { body: late });
    expect(fresh.status, fresh.text).toBe(200);
    expectDocumented('createChatCompletion', fresh);
    expect(fresh.body.choices[0].message.content).toBe('Answered from the transcript.');
    expect(fresh.body.session_id).not.toBe(waiting.body.session_id);
  });

  it('parallel_tool_calls: false hands the calls out one at a time, streamed and whole', async () => {
    mock.on('OAS_ONE_BY_ONE', {
      kind: 'tool_use',
      name: 'mcp__client__get_weather',
      input: { location: 'Rome' },
      more: [{ name: 'mcp__client__get_time', input: { zone: 'Europe/Rome' } }],
    });
    mock.on('OAS_SEQ_DONE', { text: 'Both done.' });
    const streamed = async (messages: Json[]) => {
      const body = { model: 'claude-cli/haiku', messages, tools: [weather, clock], parallel_tool_calls: false, stream: true };
      expectValidRequest(body);
      const res = await call(real, 'POST', '/v1/chat/completions', { body });
      expect(res.status).toBe(200);
      expectDocumented('createChatCompletion', res);
      const chunks = sseData(res.text).slice(0, -1).map((d) => JSON.parse(d));
      for (const chunk of chunks) expectComponent('ChatCompletionChunk', chunk);
      const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      return { chunks, deltas, finish: chunks.at(-1).choices[0].finish_reason };
    };
    const messages: Json[] = [{ role: 'user', content: 'OAS_ONE_BY_ONE please' }];
    const first = await streamed(messages);
    expect(first.finish).toBe('tool_calls');
    expect(new Set(first.deltas.map((d: Json) => d.index))).toEqual(new Set([0]));
    const one = { id: first.deltas[0].id, type: 'function', function: { name: 'get_weather', arguments: first.deltas.map((d: Json) => d.function.arguments).join('') } };
    messages.push({ role: 'assistant', content: null, tool_calls: [one] }, { role: 'tool', tool_call_id: one.id, content: 'OAS_SEQ warm' });
    const second = await streamed(messages);
    expect(second.finish).toBe('tool_calls');
    expect(second.deltas).toHaveLength(1);
    const [two] = second.deltas;
    expect(two).toMatchObject({ index: 0, type: 'function', function: { name: 'get_time' } });
    expect(JSON.parse(two.function.arguments)).toEqual({ zone: 'Europe/Rome' });
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: two.id, type: 'function', function: two.function }] });
    messages.push({ role: 'tool', tool_call_id: two.id, content: 'OAS_SEQ_DONE 15:00' });
    const third = await streamed(messages);
    expect(third.finish).toBe('stop');
    expect(third.chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Both done.');
  });

  it('a wait past TOOL_WAIT_TTL_MS fails with tool_results_timeout', async () => {
    const short = await startGateway({ mock, env: { TOOL_WAIT_TTL_MS: '300', POOL_SIZE: '0' } });
    extra.push(short);
    const sub = await subscribe(short, '?types=PROCESS_COMPLETE');
    try {
      mock.on('OAS_EXPIRE', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Oslo' } });
      const first = await call(short, 'POST', '/v1/chat/completions', { body: completion('OAS_EXPIRE soon', { tools: [weather] }) });
      expectDocumented('createChatCompletion', first);
      expect(first.body.choices[0].message.content).toBeNull();
      const event = await waitFor('the expiry', () => sub.messages.find((m) => m.process_id === first.body.process_id));
      expectComponent('GatewayEvent', event);
      expect(event).toMatchObject({ type: 'PROCESS_COMPLETE', status: 'failed', error: { type: 'timeout_error', code: 'tool_results_timeout' } });
      const expired = await call(short, 'GET', `/v1/processes/${first.body.process_id}`);
      expectDocumented('getProcess', expired);
      expect(expired.body).toMatchObject({ status: 'failed', required_action: null, error: { code: 'tool_results_timeout' }, result: first.body });
    } finally {
      sub.close();
    }
  });

  it('structured output: the JSON as content, 502 structured_output_missing without it', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    mock.on('OAS_STRUCTURED', { kind: 'tool_use', name: 'StructuredOutput', input: { city: 'Paris' } });
    const ask = completion('OAS_STRUCTURED capital', { response_format: { type: 'json_schema', json_schema: { name: 'capital', schema } } });
    expectValidRequest(ask);
    const ok = await call(real, 'POST', '/v1/chat/completions', { body: ask });
    expect(ok.status, ok.text).toBe(200);
    expectDocumented('createChatCompletion', ok);
    expect(JSON.parse(ok.body.choices[0].message.content)).toEqual({ city: 'Paris' });
    mock.on('OAS_PROSE', { text: 'Just prose.' });
    const missing = await call(real, 'POST', '/v1/chat/completions', { body: completion('OAS_PROSE', { response_format: { type: 'json_object' } }) });
    expectError(missing, 502, 'structured_output_missing');
    expectDocumented('createChatCompletion', missing);
  });
});

describe('the Anthropic Messages API', () => {
  const message = (content: unknown, fields: Record<string, unknown> = {}) => ({ model: 'claude-cli/haiku', max_tokens: 256, messages: [{ role: 'user', content }], ...fields });
  /** The events of an Anthropic stream: `event: <type>` then `data: <json>`, the type named twice. */
  const anthropicEvents = (text: string): Json[] =>
    text
      .split('\n\n')
      .filter((b) => b.trim() !== '')
      .map((block) => {
        const m = /^event: ([a-z_]+)\ndata: (.+)$/.exec(block);
        expect(m, `SSE event ${JSON.stringify(block)}`).not.toBeNull();
        const data = JSON.parse(m![2]!);
        expect(data.type).toBe(m![1]);
        return data;
      });

  it('200 message, count_tokens, and errors in Anthropic shape match the document', async () => {
    const ok = await call(real, 'POST', '/v1/messages', { body: message('hi messages', { system: 'be brief' }) });
    expect(ok.status, ok.text).toBe(200);
    expectDocumented('createMessage', ok);
    const count = await call(real, 'POST', '/v1/messages/count_tokens', { body: { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] } });
    expect(count.status).toBe(200);
    expectDocumented('countMessageTokens', count);
    const cases: [string, string, unknown, number][] = [
      ['createMessage', '/v1/messages', { model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] }, 400],
      ['createMessage', '/v1/messages', message('hi', { model: 'gpt-4o' }), 404],
      ['createMessage', '/v1/messages', message('x'.repeat(4096)), 413],
      ['countMessageTokens', '/v1/messages/count_tokens', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, 404],
      ['countMessageTokens', '/v1/messages/count_tokens', { model: 'sonnet', messages: [{ role: 'user', content: [{ type: 'document' }] }] }, 400],
    ];
    for (const [op, url, body, status] of cases) {
      const res = await call(status === 413 ? fake : real, 'POST', url, { body });
      expect(res.status, res.text).toBe(status);
      expect(res.body.type).toBe('error');
      expectDocumented(op, res);
    }
    const notJson = await call(real, 'POST', '/v1/messages', { raw: '{', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expectDocumented('createMessage', notJson);
    const locked = await extraGateway({ GATEWAY_API_KEYS: 'k1' });
    const missing = await call(locked, 'POST', '/v1/messages', { body: message('hi') });
    expect(missing.status).toBe(401);
    expect(missing.body.error.type).toBe('authentication_error');
    expectDocumented('createMessage', missing);
    const viaHeader = await call(locked, 'POST', '/v1/messages', { body: message('hi'), headers: { 'x-api-key': 'k1' } });
    expect(viaHeader.status).toBe(200);
    expectDocumented('createMessage', viaHeader);
  });

  it('streamed events match MessageStreamEvent, tool calls included; a failed stream ends with an error event', async () => {
    mock.on('oa messages tool', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Rome' }, text: 'Checking.' });
    const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }];
    for (const body of [message('oa messages stream', { stream: true }), message('oa messages tool', { stream: true, tools })]) {
      const res = await call(real, 'POST', '/v1/messages', { body });
      expect(res.status, res.text).toBe(200);
      expectDocumented('createMessage', { ...res, text: '' });
      const events = anthropicEvents(res.text);
      for (const e of events) expectComponent('MessageStreamEvent', e);
      expect(events.at(-1).type).toBe('message_stop');
    }
    // The fake CLI streams a delta, then crashes.
    const failed = await call(fake, 'POST', '/v1/messages', { body: message('FAKE_CRASH', { stream: true }) });
    expect(failed.status).toBe(200);
    const events = anthropicEvents(failed.text);
    for (const e of events) expectComponent('MessageStreamEvent', e);
    expect(events.at(-1)).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
  });
});

describe('load shedding', () => {
  it('503 gateway_overloaded with Retry-After on API routes when the event loop is saturated; probes stay up', async () => {
    const touchy = await extraGateway({ MAX_EVENT_LOOP_DELAY_MS: '5' });
    const block = (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until);
    };
    const shed = await waitFor('load shedding', async () => {
      block(150); // the gateway runs in this process: delay its event loop
      await new Promise((r) => setTimeout(r, 20));
      const res = await call(touchy, 'GET', '/v1/models');
      return res.status === 503 ? res : undefined;
    });
    expectError(shed, 503, 'gateway_overloaded');
    expectDocumented('listModels', shed);
    const health = await call(touchy, 'GET', '/health');
    expect(health.status).toBe(200);
    expectDocumented('health', health);
    for (const [method, url, op] of [['GET', '/v1/processes', 'listProcesses'], ['POST', '/v1/chat/completions', 'createChatCompletion']] as const) {
      const res = await call(touchy, method, url, method === 'POST' ? { body: completion('hi') } : {});
      expectError(res, 503, 'gateway_overloaded');
      expectDocumented(op, res);
      expect(res.headers['retry-after']).toBe('5');
    }
  });
});

describe('API keys', () => {
  it('401 on /v1 without a valid key; health and docs stay open', async () => {
    const locked = await extraGateway({ GATEWAY_API_KEYS: 'k1' });
    const missing = await call(locked, 'GET', '/v1/models');
    expectError(missing, 401, 'missing_api_key');
    expectDocumented('listModels', missing);
    const wrong = await call(locked, 'POST', '/v1/chat/completions', { body: completion('hi'), headers: { authorization: 'Bearer k2' } });
    expectError(wrong, 401, 'invalid_api_key');
    expectDocumented('createChatCompletion', wrong);
    for (const [url, op] of [['/v1/processes', 'listProcesses'], ['/v1/processes/proc_x', 'getProcess'], ['/v1/models/sonnet', 'retrieveModel']]) {
      const res = await call(locked, 'GET', url!);
      expectError(res, 401, 'missing_api_key');
      expectDocumented(op!, res);
    }
    const ok = await call(locked, 'GET', '/v1/models', { headers: { authorization: 'Bearer k1' } });
    expectDocumented('listModels', ok);
    expect(ok.status).toBe(200);
    expect((await call(locked, 'GET', '/health')).status).toBe(200);
    expect((await call(locked, 'GET', '/openapi.yaml')).status).toBe(200);

    const wsDenied = await refusedHandshake(locked);
    expectError(wsDenied, 401, 'missing_api_key');
    expectDocumented('subscribeEvents', wsDenied);
    const viaQuery = await subscribe(locked, '?api_key=k1');
    viaQuery.close();
    const viaHeader = await subscribe(locked, '', { authorization: 'Bearer k1' });
    viaHeader.close();
  });
});
