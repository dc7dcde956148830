import { readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaudeCliProvider } from '../../providers/claude-cli/index.js';
import { type TestGateway, startGateway } from '../support/gateway.js';

/**
 * Property-based fuzzing of every route with malformed, oversized, wrongly typed and hostile input:
 * every answer is a 2xx success or a 4xx OpenAI error, never a 5xx or a crash, and nothing is left
 * behind (no CLI process, no file outside the gateway's own). FUZZ_RUNS scales it (`npm run fuzz`).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const statuses = new Map<number, number>();
const TIMEOUT = Math.max(30_000, RUNS * 25);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let gw: TestGateway;
beforeAll(async () => {
  // The fake CLI answers instantly, so valid requests that get through cost little.
  gw = await startGateway({ fake: true, env: { ALLOWED_TOOLS: 'Read', BODY_LIMIT_BYTES: String(256 * 1024) } });
});
afterAll(async () => {
  // The spread of answers, to see that the generators reach past validation too.
  if (process.env.FUZZ_STATS) console.log('fuzz statuses', Object.fromEntries([...statuses].sort()));
  await gw?.close();
});

const hostile = fc.constantFrom(
  '$(touch /tmp/pwned)', '`id`', '; rm -rf /', '| cat /etc/passwd', '&& reboot', '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd', '\u0000', 'a\u0000b', '--dangerously-skip-permissions', '-p', '--resume=x',
  '--permission-mode=bypassPermissions', 'Bash(rm -rf /)', 'Bash(*)', 'mcp__x__y', 'claude-cli/../../bin/sh',
  'claude-x; ls', '\n\r\t', '💥'.repeat(1000), 'x'.repeat(70_000), '{"a":', '__proto__', 'constructor',
  'sonnet', 'claude-cli/haiku', '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f', 'proc_00000000000000000000000000000000',
);
const text = fc.oneof(hostile, fc.string(), fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }));
const nested = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small' }, fc.jsonValue(), fc.array(tie('node'), { maxLength: 3 })) })).node;
const anyValue = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), nested, fc.anything());

const role = fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function'), text);
const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constantFrom('image_url', 'input_audio', 'file', 'refusal'), image_url: anyValue }),
  anyValue,
);
const content = fc.oneof(text, fc.array(part, { maxLength: 4 }), anyValue);
const message = fc.oneof(
  fc.record({ role, content }, { requiredKeys: ['role'] }),
  fc.record({ role: fc.constant('user'), content: text }),
  anyValue,
);
const tool = fc.oneof(
  fc.record({ type: fc.constant('function'), function: fc.record({ name: fc.oneof(text, fc.constantFrom('Bash', 'Read', 'get_weather')) }) }),
  anyValue,
);
/** A valid request with one field replaced by something hostile: reaches past the first check. */
const nearlyValid = fc
  .tuple(
    fc.constantFrom('model', 'messages', 'session_id', 'max_turns', 'allowed_tools', 'disallowed_tools', 'tools', 'stream', 'background', 'content', 'role', 'system'),
    fc.oneof(text, anyValue),
  )
  .map(([field, value]) => {
    const msg: Record<string, unknown> = { role: 'user', content: 'hello' };
    const b: Record<string, unknown> = { model: 'sonnet', messages: [msg] };
    if (field === 'content' || field === 'role') msg[field] = value;
    else if (field === 'system') (b.messages as unknown[]).unshift({ role: 'system', content: value });
    else if (field.endsWith('_tools')) b[field] = [value];
    else b[field] = value;
    return b;
  });
const body = fc.oneof(
  nearlyValid,
  anyValue,
  fc.record(
    {
      model: fc.oneof(fc.constantFrom('sonnet', 'claude-cli/opus', 'claude-sonnet-4-5'), text, anyValue),
      messages: fc.oneof(fc.array(message, { maxLength: 5 }), anyValue),
      stream: fc.oneof(fc.boolean(), anyValue),
      session_id: fc.oneof(text, anyValue),
      background: fc.oneof(fc.boolean(), anyValue),
      max_turns: fc.oneof(fc.integer({ min: -5, max: 5000 }), anyValue),
      tools: fc.oneof(fc.array(tool, { maxLength: 3 }), anyValue),
      allowed_tools: fc.oneof(fc.array(text, { maxLength: 3 }), anyValue),
      disallowed_tools: fc.oneof(fc.array(text, { maxLength: 3 }), anyValue),
      tool_choice: fc.oneof(fc.constantFrom('none', 'auto', 'required'), anyValue),
      temperature: anyValue,
      n: anyValue,
      stream_options: anyValue,
    },
    { requiredKeys: [] },
  ),
);

type Injected = { statusCode: number; body: string; headers: Record<string, unknown> };

/** The invariant: a success, or a 4xx with the OpenAI error shape. */
function checkAnswer(res: Injected, what: unknown): void {
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  const ctx = `${res.statusCode} for ${JSON.stringify(what)?.slice(0, 300)}: ${res.body.slice(0, 300)}`;
  expect(res.statusCode, ctx).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const parsed = JSON.parse(res.body);
    expect(typeof parsed.error?.message, ctx).toBe('string');
    expect(typeof parsed.error?.type, ctx).toBe('string');
    expect(parsed.error.param === null || typeof parsed.error.param === 'string', ctx).toBe(true);
    expect(parsed.error.code === null || typeof parsed.error.code === 'string', ctx).toBe(true);
  }
}

const post = (payload: string, contentType = 'application/json') =>
  gw.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': contentType }, payload });

describe(`fuzz (${RUNS} runs per property)`, () => {
  it('chat completions: any JSON body is a success or a 4xx OpenAI error', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await post(JSON.stringify(b) ?? 'null');
        checkAnswer(res, b);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it('chat completions: raw bytes and odd content types are 4xx, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), hostile),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''),
        async (payload, type) => {
          const res = await post(payload, type);
          checkAnswer(res, payload);
        },
      ),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it('other routes: any path segment and query string is a success or a 4xx', async () => {
    const segment = fc.oneof(text, fc.webSegment()).map((s) => encodeURIComponent(s).slice(0, 2000));
    const query = fc.dictionary(fc.constantFrom('status', 'session_id', 'limit', 'after', 'types', 'since', 'process_id', 'x'), text, { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET /v1/processes/', 'DELETE /v1/processes/', 'GET /v1/models/', 'GET /v1/processes', 'GET /v1/events', 'GET /v1/', 'POST /v1/processes/'),
        segment,
        query,
        async (route, seg, q) => {
          const [method, base] = route.split(' ') as ['GET' | 'DELETE' | 'POST', string];
          const url = `${base}${base.endsWith('/') ? seg : ''}?${new URLSearchParams(q).toString()}`;
          const res = await gw.app.inject({ method, url });
          checkAnswer(res, url);
        },
      ),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it('leaves no stray CLI process and no file outside the gateway own', async () => {
    // Background runs started by valid fuzz cases finish within the fake CLI's few milliseconds;
    // what stays are the pool's idle processes, and nothing else.
    const provider = gw.provider as ClaudeCliProvider;
    const pool = () => provider.stats()!;
    const settling = () => gw.app.gateway.stats().running > 0 || pool().closing > 0 || provider.liveProcessGroups !== pool().total;
    for (let i = 0; i < 100 && settling(); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(pool().busy).toBe(0);
    expect(pool().total).toBeLessThanOrEqual(gw.config.pool.maxProcesses);
    expect(provider.liveProcessGroups).toBe(pool().total);
    expect(readdirSync(gw.dir).sort()).toEqual(['data', 'workspace']);
    expect(readdirSync(gw.config.workdir)).toEqual([]);
    const data = readdirSync(gw.config.dataDir).sort();
    expect(data.filter((f) => !['claude', 'claude_logs', 'conversations', 'events.jsonl', 'processes.jsonl', 'sessions.jsonl', 'tmp', 'usage.jsonl'].includes(f))).toEqual([]);
    // Only the system prompts of processes still alive.
    if (data.includes('tmp')) expect(readdirSync(path.join(gw.config.dataDir, 'tmp')).length).toBeLessThanOrEqual(pool().total);
    for (const f of readdirSync(gw.config.logDir)) expect(f.replace(/\.jsonl$/, '')).toMatch(UUID);
    expect(readdirSync(path.dirname(gw.config.logDir))).not.toContain('..');
  });
});
