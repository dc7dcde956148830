import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, useMockGateway } from '../support/gateway.js';

const NO_RETRY = { 'x-should-retry': 'false' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ctx = useMockGateway();

async function post(body: unknown, g: TestGateway = ctx.gw) {
  const res = await fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const lastRequest = () => ctx.mock.messageRequests().at(-1)!;

describe('POST /v1/chat/completions through the real CLI', () => {
  it('answers the OpenAI SDK with the mock upstream text, real usage and the CLI metadata', async () => {
    ctx.mock.on('usage please', {
      text: 'Counted.',
      usage: { input_tokens: 11, output_tokens: 6, cache_read_input_tokens: 7, cache_creation_input_tokens: 2 },
    });
    const { data, response } = await ctx.gw.openai.chat.completions
      .create({ model: 'claude-cli/sonnet', messages: [{ role: 'user', content: 'usage please' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('claude-cli/sonnet');
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Counted.' });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({
      prompt_tokens: 20,
      completion_tokens: 6,
      total_tokens: 26,
      prompt_tokens_details: { cached_tokens: 7 },
    });
    const extra = data as unknown as { session_id: string; process_id: string; claude_metadata: Record<string, any> };
    expect(extra.session_id).toMatch(UUID);
    expect(extra.process_id).toMatch(/^proc_/);
    expect(extra.claude_metadata).toMatchObject({ type: 'result', subtype: 'success', session_id: extra.session_id });
    expect(response.headers.get('x-session-id')).toBe(extra.session_id);
    expect(response.headers.get('x-process-id')).toBe(extra.process_id);
    // The CLI ran with no tools at all and the requested model.
    expect(lastRequest().body.tools ?? []).toEqual([]);
    expect(lastRequest().body.model).toBe('claude-sonnet-5-5');
  });

  it.each([
    ['claude-cli/haiku', 'claude-haiku-5-5'],
    ['opus', 'claude-opus-5-5'],
    ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
  ])('maps the model name %s to the CLI', async (model, upstream) => {
    const { status } = await post({ model, messages: [{ role: 'user', content: 'which model' }] });
    expect(status).toBe(200);
    expect(lastRequest().body.model).toBe(upstream);
  });

  it('sends system and developer messages as the system prompt and joins multi-part text', async () => {
    const { status, body } = await post({
      model: 'sonnet',
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 100,
      user: 'someone',
      messages: [
        { role: 'system', content: 'SYSTEM-RULE-ONE' },
        { role: 'developer', content: [{ type: 'text', text: 'DEV-RULE-TWO' }] },
        { role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two' }] },
      ],
    });
    expect(status).toBe(200);
    expect(body.choices[0].message.content).toBe('Hello from mock');
    const system = JSON.stringify(lastRequest().body.system);
    expect(system).toContain('SYSTEM-RULE-ONE');
    expect(system).toContain('DEV-RULE-TWO');
    expect(lastRequest().lastUserText).toContain('part one\npart two');
  });

  it('continues a session: only the new message is sent, the first turn reaches the model from the session', async () => {
    ctx.mock.on('first turn FT1', { text: 'answer ONE' });
    const first = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'first turn FT1' }] });
    expect(first.status).toBe(200);
    const sid = first.body.session_id;

    const second = await post({
      model: 'sonnet',
      session_id: sid,
      messages: [
        { role: 'user', content: 'first turn FT1' },
        { role: 'assistant', content: 'answer ONE' },
        { role: 'user', content: 'second turn ST2' },
      ],
    });
    expect(second.status).toBe(200);
    expect(second.body.session_id).toBe(sid);
    const req = lastRequest();
    const text = JSON.stringify(req.body.messages);
    expect(text).toContain('first turn FT1');
    expect(text).toContain('answer ONE');
    expect(req.lastUserText).toContain('second turn ST2');
    expect(req.lastUserText).not.toContain('first turn FT1');

    // Both turns are in the session's JSONL log: request, response, request, response.
    const lines = readFileSync(path.join(ctx.gw.config.logDir, `${sid}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['request', 'response', 'request', 'response']);
    expect(lines[0]).toMatchObject({ session_id: sid, process_id: first.body.process_id, model: 'sonnet' });
    expect(lines[0].messages).toEqual([{ role: 'user', content: 'first turn FT1' }]);
    expect(lines[1].claude).toMatchObject({ type: 'result', result: 'answer ONE', session_id: sid });
    expect(lines[3].process_id).toBe(second.body.process_id);
    for (const l of lines) expect(typeof l.ts).toBe('number');
  });

  it('renders earlier turns for the model on a first turn that carries history', async () => {
    const { status } = await post({
      model: 'sonnet',
      messages: [
        { role: 'user', content: 'my name is Ada' },
        { role: 'assistant', content: 'Nice to meet you, Ada.' },
        { role: 'user', content: 'what is my name?' },
      ],
    });
    expect(status).toBe(200);
    const text = lastRequest().lastUserText;
    expect(text).toContain('<conversation_history>');
    expect(text).toMatch(/<turn role="user">\nmy name is Ada\n<\/turn>\n<turn role="assistant">\nNice to meet you, Ada.\n<\/turn>/);
    expect(text.trim().endsWith('what is my name?')).toBe(true);
  });

  it('maps max_turns and reports error_max_turns as finish_reason "length"', async () => {
    ctx.mock.on('loop forever', { kind: 'tool_use', name: 'Bash', input: { command: 'echo hi' } });
    const { status, body } = await post({
      model: 'sonnet',
      max_turns: 1,
      messages: [{ role: 'user', content: 'loop forever' }],
    });
    expect(status).toBe(200);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.claude_metadata.subtype).toBe('error_max_turns');
  });
});

describe('images (real CLI)', () => {
  it('sends a data URL and an https URL as image blocks of the user message, with the text', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
    const res = await post({
      model: 'sonnet',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is in these? IMG1' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const request = ctx.mock.messageRequests().find((r) => JSON.stringify(r.body.messages).includes('IMG1'));
    expect(request).toBeDefined();
    const blocks = JSON.stringify(request!.body.messages);
    expect(blocks).toContain(`"data":"${png}"`);
    expect(blocks).toContain('"media_type":"image/png"');
    expect(blocks).toContain('https://example.com/cat.jpg');
  });
});

describe('reasoning effort (real CLI)', () => {
  it('reaches the model as the CLI effort (--effort)', async () => {
    const res = await post({ model: 'sonnet', reasoning_effort: 'high', messages: [{ role: 'user', content: 'think hard EFF1' }] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const request = ctx.mock.messageRequests().find((r) => JSON.stringify(r.body.messages).includes('EFF1'));
    expect(request!.body.output_config).toMatchObject({ effort: 'high' });
  });
});

describe('session errors', () => {
  it('answers 404 for an unknown session and 400 for a session id that is not a UUID', async () => {
    const unknown = await post({
      model: 'sonnet',
      session_id: '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ param: 'session_id', code: 'session_not_found' });

    const bad = await post({ model: 'sonnet', session_id: '../../etc/passwd', messages: [{ role: 'user', content: 'hi' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error', param: 'session_id' });
  });
});

describe('upstream errors reported by the CLI keep their meaning', () => {
  it.each([
    [401, 401, 'upstream_authentication_error'],
    [403, 403, 'upstream_permission_error'],
    [429, 429, 'upstream_rate_limited'],
    [529, 503, 'upstream_overloaded'],
    [500, 502, 'upstream_server_error'],
  ])('upstream %i → %i', async (upstream, status, code) => {
    const marker = `fail with ${upstream}`;
    ctx.mock.on(marker, { kind: 'error', status: upstream, headers: NO_RETRY });
    const res = await post({ model: 'sonnet', messages: [{ role: 'user', content: marker }] });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toContain(String(upstream));
    const proc = await (await fetch(`${ctx.gw.url}/v1/processes/${res.headers.get('x-process-id')}`)).json();
    expect(proc).toMatchObject({ status: 'failed', error: { code } });
  });

  it('logs an error line with the CLI output for a failed turn', async () => {
    ctx.mock.on('log my failure', { kind: 'error', status: 403, headers: NO_RETRY });
    const res = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'log my failure' }] });
    const sid = res.headers.get('x-session-id')!;
    const lines = readFileSync(path.join(ctx.gw.config.logDir, `${sid}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['request', 'error']);
    expect(lines[1]).toMatchObject({ status: 'failed', error: { code: 'upstream_permission_error' } });
    expect(lines[1].claude).toMatchObject({ type: 'result', api_error_status: 403 });
  });

  it('answers 504 when the CLI misses the deadline, and keeps serving', async () => {
    const g = await startGateway({ mock: ctx.mock, env: { REQUEST_TIMEOUT_MS: '1500' } });
    try {
      ctx.mock.on('hang please', { kind: 'hang' });
      const t0 = Date.now();
      const res = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'hang please' }] }, g);
      expect(res.status).toBe(504);
      expect(res.body.error.code).toBe('deadline_exceeded');
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect((await post({ model: 'sonnet', messages: [{ role: 'user', content: 'after the hang' }] }, g)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('reports a CLI that is not logged in, and an unreachable upstream', async () => {
    const noKey = await startGateway({ mock: ctx.mock, parentEnv: { ANTHROPIC_API_KEY: '' } });
    const down = await startGateway({
      env: { CLAUDE_ENV_PASSTHROUGH: 'CLAUDE_CODE_MAX_RETRIES' },
      parentEnv: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', CLAUDE_CODE_MAX_RETRIES: '0' },
    });
    try {
      const a = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] }, noKey);
      expect(a.status).toBe(401);
      expect(a.body.error.code).toBe('upstream_not_logged_in');
      const b = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] }, down);
      expect(b.status).toBe(502);
      expect(b.body.error.code).toBe('upstream_unreachable');
    } finally {
      await noKey.close();
      await down.close();
    }
  });
});

describe('request validation (400s name the field)', () => {
  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'sonnet' }, 'messages'],
    [{ model: 'sonnet', messages: [] }, 'messages'],
    [{ model: 'sonnet', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[1].image_url.url'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }] }, 'messages'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], max_turns: 0 }, 'max_turns'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'get weather!' } }] }, 'tools[0].function.name'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }, 'tool_choice'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'a', content: 'r' }, { role: 'user', content: 'y' }] }, 'messages[1]'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'Bash' } }] }, 'tools[0].function.name'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], allowed_tools: ['Bash; rm -rf /'] }, 'allowed_tools[0]'],
    [{ model: 'sonnet', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'big', schema: { description: 'x'.repeat(70_000) } } } }, 'response_format.json_schema.schema'],
  ])('%j → 400 naming %s', async (body, param) => {
    const before = ctx.mock.messageRequests().length;
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(typeof res.body.error.message).toBe('string');
    expect(ctx.mock.messageRequests().length).toBe(before);
  });

  it('answers 404 for an unknown model, 400 for bad JSON and 413 for a body over the limit', async () => {
    const unknown = await post({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ param: 'model', code: 'model_not_found' });

    const badJson = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "sonnet", ',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).error.code).toBe('invalid_json');

    const small = await startGateway({ fake: true, env: { BODY_LIMIT_BYTES: '2048' } });
    try {
      const big = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, small);
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('payload_too_large');
    } finally {
      await small.close();
    }
  });

  it('gives the SDK a typed error it can read', async () => {
    const err = await ctx.gw.openai.chat.completions
      .create({ model: 'nope-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });
});

describe('the CLI itself', () => {
  it('answers 503 "claude executable not found" when the CLI is missing, on completions and /ready', async () => {
    const g = await startGateway({ env: { CLAUDE_BIN: '/nonexistent/claude' } });
    try {
      const res = await post({ model: 'sonnet', messages: [{ role: 'user', content: 'x' }] }, g);
      expect(res.status).toBe(503);
      expect(res.body.error.message).toMatch(/^claude executable not found/);
      const ready = await fetch(`${g.url}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).error.message).toMatch(/^claude executable not found/);
      expect((await fetch(`${g.url}/health`)).status).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('runs the CLI with an allow-listed environment only', async () => {
    const g = await startGateway({
      fake: true,
      env: { GATEWAY_API_KEYS: 'secret-gateway-key' },
      parentEnv: { GATEWAY_API_KEYS: 'secret-gateway-key', SOME_SECRET: 'nope', ANTHROPIC_MODEL: 'x', HTTPS_PROXY: 'http://127.0.0.1:1' },
    });
    try {
      const res = await fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret-gateway-key' },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'FAKE_ENV' }] }),
      });
      const body = (await res.json()) as any;
      const env = JSON.parse(body.choices[0].message.content);
      expect(Object.keys(env).sort()).toEqual(
        ['ANTHROPIC_API_KEY', 'ANTHROPIC_MODEL', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC', 'CLAUDE_CODE_MAX_RETRIES', 'CLAUDE_CONFIG_DIR', 'DISABLE_TELEMETRY', 'HOME', 'HTTPS_PROXY', 'PATH'].sort(),
      );
      expect(env.CLAUDE_CONFIG_DIR).toBe(g.config.claudeConfigDir);
      expect(existsSync(g.config.claudeConfigDir)).toBe(true);
    } finally {
      await g.close();
    }
  });
});
