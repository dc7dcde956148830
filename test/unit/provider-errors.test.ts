// ProviderError → GatewayError (src/errors.ts): the one place a provider's failure gets its HTTP status,
// OpenAI error type and Retry-After. The second half pins what the Claude CLI provider's failures answer.
import { describe, expect, it } from 'vitest';
import { cliFailure, spawnFailure } from '../../providers/claude-cli/failure.js';
import { CliOutput } from '../../providers/claude-cli/output.js';
import { mapCliResult } from '../../providers/claude-cli/result.js';
import { schemaRefused } from '../../providers/claude-cli/structured-output.js';
import { PROVIDER_ERROR_KINDS, ProviderError, type ProviderErrorKind } from '../../providers/types.js';
import { GatewayError, InvalidRequestError, fromProviderError, knownError } from '../../src/core/errors.js';

/** What a client sees of an error: status, body fields and Retry-After. */
const wire = (e: GatewayError) => ({
  status: e.status,
  type: e.type,
  code: e.code,
  param: e.param,
  retryAfter: e.headers['retry-after'],
});

const errno = (code: string, text: string) => Object.assign(new Error(`${code}: ${text}, write`), { code });

describe('fromProviderError: each kind', () => {
  const expected: Record<Exclude<ProviderErrorKind, 'storage'>, { status: number; type: string }> = {
    invalid_request: { status: 400, type: 'invalid_request_error' },
    auth: { status: 401, type: 'authentication_error' },
    permission: { status: 403, type: 'permission_error' },
    not_found: { status: 404, type: 'invalid_request_error' },
    too_large: { status: 413, type: 'invalid_request_error' },
    rate_limited: { status: 429, type: 'rate_limit_error' },
    upstream: { status: 502, type: 'api_error' },
    unreachable: { status: 502, type: 'api_error' },
    bad_output: { status: 502, type: 'api_error' },
    cancelled: { status: 502, type: 'api_error' },
    overloaded: { status: 503, type: 'overloaded_error' },
    unavailable: { status: 503, type: 'api_error' },
    timeout: { status: 504, type: 'timeout_error' },
  };

  it('covers every kind but storage (which takes its status from the errno)', () => {
    expect(Object.keys(expected).sort()).toEqual(PROVIDER_ERROR_KINDS.filter((k) => k !== 'storage').sort());
  });

  it.each(Object.entries(expected))('%s → %o, with the provider’s message, code, param and detail', (kind, { status, type }) => {
    const detail = { type: 'result', subtype: 'success', is_error: true };
    const err = new ProviderError(kind as ProviderErrorKind, `it went wrong (${kind})`, { code: `the_${kind}_code`, param: 'some.field', detail });
    const mapped = fromProviderError(err);
    expect(mapped).toBeInstanceOf(GatewayError);
    expect(mapped.toJSON()).toEqual({ message: `it went wrong (${kind})`, type, param: 'some.field', code: `the_${kind}_code` });
    expect(mapped.status).toBe(status);
    expect(mapped.raw).toBe(detail);
  });

  it('without a code the kind is the code; without a param it is null', () => {
    expect(fromProviderError(new ProviderError('timeout', 'slow')).toJSON()).toEqual({
      message: 'slow',
      type: 'timeout_error',
      param: null,
      code: 'timeout',
    });
  });
});

describe('fromProviderError: Retry-After', () => {
  it.each([
    ['rate_limited', 30_000, '30'],
    ['overloaded', 10_000, '10'],
    ['rate_limited', 1_500, '2'],
    ['rate_limited', 10, '1'],
    ['rate_limited', undefined, '5'],
    ['overloaded', undefined, '5'],
    ['unavailable', undefined, '5'],
  ] as const)('%s after %s ms says %s s', (kind, retryAfterMs, header) => {
    expect(fromProviderError(new ProviderError(kind, 'later', { retryAfterMs })).headers['retry-after']).toBe(header);
  });

  it('only 429 and 503 carry it', () => {
    expect(fromProviderError(new ProviderError('upstream', 'x', { retryAfterMs: 5_000 })).headers).toEqual({});
    expect(fromProviderError(new ProviderError('timeout', 'x', { retryAfterMs: 5_000 })).headers).toEqual({});
  });
});

describe('fromProviderError: storage', () => {
  const failed = (cause: unknown) => fromProviderError(new ProviderError('storage', 'could not write the system prompt file for the CLI', { cause }));

  it('a full disk is 507 storage_full, naming what and why', () => {
    const e = failed(errno('ENOSPC', 'no space left on device'));
    expect(wire(e)).toEqual({ status: 507, type: 'api_error', code: 'storage_full', param: null, retryAfter: undefined });
    expect(e.message).toBe('could not write the system prompt file for the CLI: ENOSPC (no space left on device)');
  });

  it('another errno is 503 storage_unavailable, anything else 500 storage_error', () => {
    expect(wire(failed(errno('EROFS', 'read-only file system')))).toMatchObject({ status: 503, code: 'storage_unavailable', retryAfter: '5' });
    expect(wire(failed(new TypeError('not a file')))).toMatchObject({ status: 500, code: 'storage_error' });
  });
});

describe('ProviderError', () => {
  it('is retryable by default for rate limits, overloads, upstream failures, timeouts and bad output', () => {
    const retryable = PROVIDER_ERROR_KINDS.filter((k) => new ProviderError(k, '').retryable);
    expect(retryable.sort()).toEqual(['bad_output', 'overloaded', 'rate_limited', 'timeout', 'unreachable', 'upstream']);
    expect(new ProviderError('unavailable', '', { retryable: true }).retryable).toBe(true);
    expect(new ProviderError('timeout', '', { retryable: false }).retryable).toBe(false);
  });
});

describe('knownError', () => {
  it('keeps a GatewayError, maps a ProviderError, and leaves anything else to the caller', () => {
    const own = new InvalidRequestError('bad', 'model');
    expect(knownError(own)).toBe(own);
    expect(knownError(new ProviderError('not_found', 'gone'))?.status).toBe(404);
    expect(knownError(new Error('boom'))).toBeUndefined();
    expect(knownError('boom')).toBeUndefined();
  });
});

describe('what the Claude CLI provider’s failures answer', () => {
  /** A CLI result reporting an upstream failure, as the CLI prints it. */
  const upstream = (change: Record<string, unknown>) => ({
    type: 'result',
    subtype: 'success',
    is_error: true,
    session_id: '00000000-0000-4000-8000-000000000001',
    result: 'API Error: something',
    terminal_reason: 'api_error',
    ...change,
  });

  function answered(fn: () => unknown) {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ProviderError);
      return wire(fromProviderError(err as ProviderError));
    }
    throw new Error('expected an error');
  }
  const fromResult = (change: Record<string, unknown>, out = new CliOutput(false)) => answered(() => mapCliResult(upstream(change), out));

  it.each([
    [400, 400, 'invalid_request_error', 'upstream_invalid_request', undefined],
    [401, 401, 'authentication_error', 'upstream_authentication_error', undefined],
    [403, 403, 'permission_error', 'upstream_permission_error', undefined],
    [404, 404, 'invalid_request_error', 'upstream_not_found', undefined],
    [413, 413, 'invalid_request_error', 'upstream_request_too_large', undefined],
    [429, 429, 'rate_limit_error', 'upstream_rate_limited', '30'],
    [500, 502, 'api_error', 'upstream_server_error', undefined],
    [503, 503, 'overloaded_error', 'upstream_overloaded', '10'],
    [529, 503, 'overloaded_error', 'upstream_overloaded', '10'],
    [418, 502, 'api_error', 'upstream_error', undefined],
  ])('upstream HTTP %i → %i %s %s', (upstreamStatus, status, type, code, retryAfter) => {
    expect(fromResult({ api_error_status: upstreamStatus })).toEqual({ status, type, code, param: null, retryAfter });
  });

  it("a 429's Retry-After follows the CLI's last retry delay when it retried", () => {
    const out = new CliOutput(true);
    out.push(JSON.stringify({ type: 'system', subtype: 'api_retry', retry_delay_ms: 7_200 }));
    expect(fromResult({ api_error_status: 429 }, out)).toMatchObject({ status: 429, retryAfter: '8' });
  });

  it.each([
    ['not logged in', { result: 'Not logged in · Please run /login' }, 401, 'authentication_error', 'upstream_not_logged_in'],
    ['a timeout', { result: 'Request timed out' }, 504, 'timeout_error', 'upstream_timeout'],
    ['a refused connection', { result: 'API Error: Connection refused' }, 502, 'api_error', 'upstream_unreachable'],
    ['another error', { result: 'something odd', terminal_reason: 'completed' }, 502, 'api_error', 'cli_error'],
    ['an interrupted run', { subtype: 'error_during_execution', result: null, terminal_reason: 'aborted_streaming' }, 502, 'api_error', 'cli_aborted'],
  ])('%s → %i %s %s', (_what, change, status, type, code) => {
    expect(fromResult({ api_error_status: null, ...change })).toMatchObject({ status, type, code });
  });

  it('output it cannot use is a 502; a missing structured output too; a refused schema a 400 naming the field', () => {
    expect(answered(() => mapCliResult({ type: 'result' }, new CliOutput(false)))).toMatchObject({ status: 502, code: 'bad_cli_output' });
    const ok = upstream({ is_error: false, terminal_reason: 'completed', result: 'hi', structured_output: null });
    expect(answered(() => mapCliResult(ok, new CliOutput(false), true))).toMatchObject({ status: 502, code: 'structured_output_missing' });
    expect(answered(() => {
      throw schemaRefused('no');
    })).toEqual({ status: 400, type: 'invalid_request_error', code: 'invalid_json_schema', param: 'response_format.json_schema.schema', retryAfter: undefined });
  });

  it('a CLI that cannot start is a 503; an unknown session a 404 on session_id; a crash a 502', () => {
    expect(wire(fromProviderError(spawnFailure('/nope/claude', 'ENOENT')))).toEqual({
      status: 503,
      type: 'api_error',
      code: 'claude_not_found',
      param: null,
      retryAfter: '5',
    });
    expect(fromProviderError(spawnFailure('/nope/claude', 'ENOENT')).message).toMatch(/^claude executable not found: \/nope\/claude/);
    expect(wire(fromProviderError(spawnFailure('claude', 'EACCES')))).toMatchObject({ status: 503, code: 'claude_unusable' });
    const exit = (stderr: string) => ({ exitCode: 1, stderr });
    const sid = '00000000-0000-4000-8000-000000000002';
    expect(wire(fromProviderError(cliFailure('claude', exit(`No conversation found with session ID: ${sid}`), '', sid)))).toEqual({
      status: 404,
      type: 'invalid_request_error',
      code: 'session_not_found',
      param: 'session_id',
      retryAfter: undefined,
    });
    expect(wire(fromProviderError(cliFailure('claude', exit('error: bubblewrap is required'), '', sid)))).toMatchObject({
      status: 503,
      code: 'tool_sandbox_unavailable',
    });
    const crash = fromProviderError(cliFailure('claude', { signal: 'SIGSEGV', stderr: '' }, 'half a line', sid));
    expect(wire(crash)).toMatchObject({ status: 502, type: 'api_error', code: 'bad_cli_output' });
    expect(crash.message).toBe('the Claude CLI was killed by SIGSEGV without a usable result (stdout: half a line)');
  });
});
