// The Unix socket's wire format (src/unix-socket/protocol.ts, lines.ts) and SPAWN's mapping to a job
// (commands.ts): pure, no socket. The socket itself is in test/system/unix-socket.test.ts.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { CancelledError, GatewayError, InvalidRequestError, NotFoundError, QueueFullError, ServiceUnavailableError } from '../../src/core/errors.js';
import type { GatewayEvent } from '../../src/core/process-types.js';
import type { RunResult } from '../../src/core/run-types.js';
import type { Gateway } from '../../src/gateway.js';
import { AgentIds, spawnJob } from '../../src/unix-socket/commands.js';
import { LineSplitter } from '../../src/unix-socket/lines.js';
import {
  asyncSpawnResult,
  errorCode,
  errorReply,
  eventLine,
  failure,
  parseLine,
  parseParameters,
  presentedKey,
  serialize,
  spawnParametersSchema,
  spawnResult,
  subscribeParametersSchema,
  success,
} from '../../src/unix-socket/protocol.js';
import { thrown } from './thrown.js';

const SESSION = '6f1c7a52-3f4e-4b8a-9d2c-1a2b3c4d5e6f';
const PROC = `proc_${'a'.repeat(32)}`;
const NOW = new Date('2026-01-02T03:04:05.678Z');

describe('envelopes', () => {
  it('success: status, command, result, metadata.timestamp (ISO 8601)', () => {
    expect(success('HEALTH_CHECK', { status: 'healthy' }, NOW)).toEqual({
      status: 'success',
      command: 'HEALTH_CHECK',
      result: { status: 'healthy' },
      metadata: { timestamp: '2026-01-02T03:04:05.678Z' },
    });
  });

  it('error: status, command, error {code, message, timestamp}', () => {
    expect(failure('SPAWN', 'INVALID_PARAMETERS', "'prompt' is required", NOW)).toEqual({
      status: 'error',
      command: 'SPAWN',
      error: { code: 'INVALID_PARAMETERS', message: "'prompt' is required", timestamp: '2026-01-02T03:04:05.678Z' },
    });
  });

  it('one JSON object per line', () => {
    const line = serialize(success('X', { text: 'a\nb' }, NOW));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line).result.text).toBe('a\nb');
  });
});

describe('reading a request line', () => {
  it('takes command, parameters, version 2.0 and metadata', () => {
    const parsed = parseLine('{"command":"SPAWN","parameters":{"prompt":"hi"},"version":"2.0","metadata":{"api_key":"k"}}');
    expect(parsed).toEqual({ ok: true, request: { command: 'SPAWN', parameters: { prompt: 'hi' }, version: '2.0', metadata: { api_key: 'k' } } });
  });

  it('defaults parameters to {}', () => {
    expect(parseLine('{"command":"HEALTH_CHECK"}')).toEqual({ ok: true, request: { command: 'HEALTH_CHECK', parameters: {} } });
  });

  it('a line that is not JSON: INVALID_JSON, with no command', () => {
    const parsed = parseLine('{"command": SPAWN');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reply).toMatchObject({ status: 'error', command: null, error: { code: 'INVALID_JSON' } });
    expect(parsed.reply.error.message).toMatch(/not JSON/);
  });

  it.each([
    ['[]', null, /expected object/],
    ['"SPAWN"', null, /expected object/],
    ['{}', null, /'command' is required/],
    ['{"command":5}', null, /'command'/],
    ['{"command":"SPAWN","version":"1.0"}', 'SPAWN', /'version'.*"2\.0"/],
    ['{"command":"SPAWN","parameters":[1]}', 'SPAWN', /'parameters'.*object/],
  ])('JSON that is no request (%s): INVALID_REQUEST naming the field', (line, command, message) => {
    const parsed = parseLine(line);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reply).toMatchObject({ status: 'error', command, error: { code: 'INVALID_REQUEST' } });
    expect(parsed.reply.error.message).toMatch(message);
  });

  it('the key comes from metadata.api_key, else parameters.api_key', () => {
    const req = (o: object) => {
      const parsed = parseLine(JSON.stringify({ command: 'GET_PROCESSES', ...o }));
      if (!parsed.ok) throw new Error('not a request');
      return parsed.request;
    };
    expect(presentedKey(req({ metadata: { api_key: 'm' }, parameters: { api_key: 'p' } }))).toBe('m');
    expect(presentedKey(req({ parameters: { api_key: 'p' } }))).toBe('p');
    expect(presentedKey(req({ metadata: { api_key: 5 } }))).toBeUndefined();
    expect(presentedKey(req({}))).toBeUndefined();
  });
});

describe('SPAWN parameters', () => {
  const spawnParams = (p: Record<string, unknown>) => parseParameters(spawnParametersSchema, p);
  const base = { mode: 'sync', type: 'claude', prompt: 'Hello' };

  it('defaults: model sonnet, no tools', () => {
    expect(spawnParams(base)).toEqual({ ...base, model: 'sonnet', enable_tools: false });
  });

  it('ignores parameters it does not know (api_key among them)', () => {
    expect(spawnParams({ ...base, api_key: 'k', extra: 1 })).toEqual({ ...base, model: 'sonnet', enable_tools: false });
  });

  it.each([
    [{ type: 'claude', prompt: 'x' }, 'mode', /'mode' is required/],
    [{ ...base, mode: 'later' }, 'mode', /'mode'/],
    [{ mode: 'sync', prompt: 'x' }, 'type', /'type' is required/],
    [{ ...base, type: 'gpt' }, 'type', /'type'.*claude/],
    [{ mode: 'sync', type: 'claude' }, 'prompt', /'prompt' is required/],
    [{ ...base, prompt: '' }, 'prompt', /'prompt'/],
    [{ ...base, prompt: 42 }, 'prompt', /'prompt'/],
    [{ ...base, session_id: 'abc' }, 'session_id', /'session_id'.*UUID/],
    [{ ...base, enable_tools: 'yes' }, 'enable_tools', /'enable_tools'/],
    [{ ...base, agent_id: '' }, 'agent_id', /'agent_id'/],
  ])('refuses %j: a 400 naming %s (INVALID_PARAMETERS on the wire)', (p, param, message) => {
    const err = thrown(() => spawnParams(p));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe(param);
    expect((err as Error).message).toMatch(message);
    expect(errorReply('SPAWN', err as InvalidRequestError).error.code).toBe('INVALID_PARAMETERS');
  });
});

describe('SUBSCRIBE parameters', () => {
  const sub = (p: Record<string, unknown>) => parseParameters(subscribeParametersSchema, p);

  it('event types, and optionally an agent id', () => {
    expect(sub({ event_types: ['PROCESS_COMPLETE'], agent_id: 'a1' })).toEqual({ event_types: ['PROCESS_COMPLETE'], agent_id: 'a1' });
  });

  it.each([[{}], [{ event_types: [] }], [{ event_types: ['PROCESS_DONE'] }], [{ event_types: 'PROCESS_COMPLETE' }]])('refuses %j', (p) => {
    expect(thrown(() => sub(p))).toBeInstanceOf(InvalidRequestError);
  });
});

describe('SPAWN → job', () => {
  const deps = (allowedTools: string[] = ['Read', 'Bash']) => ({
    gateway: { resolveModel: (name: string) => (name === 'sonnet' || name === 'opus' ? `claude-${name}` : undefined) } as unknown as Gateway,
    allowedTools,
    agents: new AgentIds(),
  });
  const params = (p: Record<string, unknown> = {}) => parseParameters(spawnParametersSchema, { mode: 'sync', type: 'claude', prompt: 'Hello', ...p });

  it('one user message, a new session, no tools, no meta', () => {
    const job = spawnJob(params(), deps());
    expect(job.model).toBe('sonnet');
    expect(job.messages).toEqual([{ role: 'user', content: 'Hello' }]);
    expect(job.meta).toBeUndefined();
    expect(job.request).toMatchObject({
      model: 'claude-sonnet',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
      tools: [],
      permissions: { allow: [], deny: [] },
      session: { kind: 'new' },
      stream: false,
    });
  });

  it('continues a session, keeps the agent id as meta, enables ALLOWED_TOOLS with enable_tools', () => {
    const job = spawnJob(params({ session_id: SESSION, agent_id: 'agent-7', enable_tools: true, model: 'opus' }), deps());
    expect(job.meta).toEqual({ agent_id: 'agent-7' });
    expect(job.request).toMatchObject({
      model: 'claude-opus',
      session: { kind: 'continue', sessionId: SESSION },
      permissions: { allow: ['Read', 'Bash'], deny: [] },
    });
  });

  it('enable_tools with an empty ALLOWED_TOOLS enables nothing', () => {
    expect(spawnJob(params({ enable_tools: true }), deps([])).request.permissions).toEqual({ allow: [], deny: [] });
  });

  it('a model nobody serves: MODEL_NOT_FOUND', () => {
    const err = thrown(() => spawnJob(params({ model: 'gpt-9' }), deps()));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(errorCode(err as NotFoundError)).toBe('MODEL_NOT_FOUND');
  });
});

describe('error codes of gateway refusals', () => {
  it.each([
    [new InvalidRequestError('bad', 'x'), 'INVALID_PARAMETERS'],
    [new NotFoundError("session 'x' does not exist", 'session_id', 'session_not_found'), 'SESSION_NOT_FOUND'],
    [new QueueFullError(5), 'QUEUE_FULL'],
    [new ServiceUnavailableError('claude executable not found', 'cli_not_found'), 'CLI_NOT_FOUND'],
    [new CancelledError('client_disconnected'), 'CLIENT_DISCONNECTED'],
    [new GatewayError(401, 'authentication_error', 'invalid API key', { code: 'invalid_api_key' }), 'UNAUTHORIZED'],
    [new GatewayError(503, 'api_error', 'down'), 'UNAVAILABLE'],
    [new GatewayError(504, 'timeout_error', 'late'), 'TIMEOUT'],
    [new GatewayError(500, 'api_error', 'oops'), 'INTERNAL_ERROR'],
  ])('%s → %s', (err, code) => {
    expect(errorCode(err)).toBe(code);
    expect(errorReply('SPAWN', err).error).toMatchObject({ code, message: err.message });
  });
});

const result = (raw: Record<string, unknown>): RunResult => ({
  completionId: 'c'.repeat(32),
  created: 1_700_000_000,
  model: 'sonnet',
  processId: PROC,
  sessionId: SESSION,
  text: 'hi there',
  finishReason: 'stop',
  usage: { inputTokens: 3, outputTokens: 2, cacheReadTokens: 1, cacheCreationTokens: 0 },
  raw,
});

describe('SPAWN results', () => {
  it("sync, from the CLI: its own result object, with the process id", () => {
    const cli = { type: 'result', subtype: 'success', is_error: false, result: 'hi there', session_id: SESSION, total_cost_usd: 0.01, usage: { input_tokens: 3 }, num_turns: 1 };
    expect(spawnResult(result(cli), 0.01)).toEqual({ ...cli, process_id: PROC });
  });

  it('sync, from another provider: an object of the same shape, built from the answer', () => {
    expect(spawnResult(result({ id: 'msg_1', stop_reason: 'end_turn' }), null)).toEqual({
      type: 'result',
      subtype: 'success',
      is_error: false,
      result: 'hi there',
      session_id: SESSION,
      stop_reason: 'end_turn',
      total_cost_usd: null,
      usage: { input_tokens: 3, output_tokens: 2, cache_read_input_tokens: 1, cache_creation_input_tokens: 0 },
      model: 'sonnet',
      process_id: PROC,
    });
  });

  it('async: process id, started', () => {
    expect(asyncSpawnResult(PROC)).toEqual({ process_id: PROC, status: 'started', type: 'claude', mode: 'async' });
  });
});

describe('event lines', () => {
  const complete: GatewayEvent = {
    seq: 7,
    type: 'PROCESS_COMPLETE',
    ts: 1_700_000_001.5,
    process_id: PROC,
    session_id: SESSION,
    status: 'completed',
    model: 'sonnet',
    result: result({ type: 'result', subtype: 'success' }),
    key_id: null,
  };

  it('the WebSocket event (result as the chat.completion) with the agent id', () => {
    const line = eventLine(complete, 'agent-7');
    expect(line).toMatchObject({
      type: 'event',
      event_type: 'PROCESS_COMPLETE',
      payload: { seq: 7, type: 'PROCESS_COMPLETE', process_id: PROC, session_id: SESSION, status: 'completed', agent_id: 'agent-7' },
    });
    expect(line.payload).toHaveProperty('result.object', 'chat.completion');
    expect(line.payload).toHaveProperty('result.choices.0.message.content', 'hi there');
  });

  it('agent_id null for a process spawned without one', () => {
    const queued: GatewayEvent = { seq: 1, type: 'PROCESS_QUEUED', ts: 1, process_id: PROC, session_id: SESSION, status: 'queued', model: 'sonnet', key_id: null };
    expect(eventLine(queued, null)).toEqual({ type: 'event', event_type: 'PROCESS_QUEUED', payload: { ...queued, agent_id: null } });
  });
});

describe('line splitting', () => {
  const bytes = (s: string) => Buffer.from(s, 'utf8');

  it('lines across chunks, \\r\\n, blank lines skipped', () => {
    const s = new LineSplitter(1024);
    expect(s.push(bytes('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(s.push(bytes(':2}\r\n\n  \n{"c":3}'))).toEqual(['{"b":2}']);
    expect(s.push(bytes('\n'))).toEqual(['{"c":3}']);
  });

  it('a multi-byte character split between chunks arrives whole', () => {
    const s = new LineSplitter(1024);
    const line = bytes('{"p":"é€😀"}\n');
    const out = [...s.push(line.subarray(0, 8)), ...s.push(line.subarray(8, 11)), ...s.push(line.subarray(11))];
    expect(out).toEqual(['{"p":"é€😀"}']);
  });

  it('a line over the limit overflows, after the lines before it', () => {
    const s = new LineSplitter(10);
    expect(s.push(bytes('0123456789\n0123456'))).toEqual(['0123456789']);
    expect(s.overflowed).toBe(false);
    expect(s.push(bytes('7890\nok\n'))).toEqual([]);
    expect(s.overflowed).toBe(true);
    expect(s.push(bytes('more\n'))).toEqual([]);
  });

  it('a line without newline that grows past the limit overflows before it ends', () => {
    const s = new LineSplitter(16);
    expect(s.push(bytes('x'.repeat(10)))).toEqual([]);
    expect(s.overflowed).toBe(false);
    s.push(bytes('x'.repeat(10)));
    expect(s.overflowed).toBe(true);
  });
});

describe('SOCKET_PATH', () => {
  it('unset: no socket; set: absolute, relative to the working directory', () => {
    expect(loadConfig({}, '/srv/gw').socketPath).toBeUndefined();
    expect(loadConfig({ SOCKET_PATH: '' }, '/srv/gw').socketPath).toBeUndefined();
    expect(loadConfig({ SOCKET_PATH: 'data/gw.sock' }, '/srv/gw').socketPath).toBe('/srv/gw/data/gw.sock');
    expect(loadConfig({ SOCKET_PATH: '/run/gw.sock' }, '/srv/gw').socketPath).toBe('/run/gw.sock');
  });
});
