// How the HTTP providers (anthropic, openai-compatible) turn upstream failures into ProviderErrors:
// statuses, the error bodies of the APIs and servers they meet, retry-after, errors inside a stream,
// and failures to connect.
import { describe, expect, it } from 'vitest';
import { errorBodyOf, httpError, retryAfterMs, retryAfterOf, streamError, transportError } from '../../providers/upstream-errors.js';

const API = 'Some API';
const anthropicBody = (message: string) => JSON.stringify({ type: 'error', error: { type: 'x', message } });
const openaiBody = (message: string) => JSON.stringify({ error: { message, type: 'x', param: null, code: null } });

describe('HTTP errors', () => {
  it.each([
    [400, 'invalid_request', 'upstream_invalid_request', false],
    [422, 'invalid_request', 'upstream_invalid_request', false],
    [401, 'auth', 'upstream_authentication_error', false],
    [403, 'permission', 'upstream_permission_error', false],
    [404, 'not_found', 'upstream_not_found', false],
    [413, 'too_large', 'upstream_request_too_large', false],
    [429, 'rate_limited', 'upstream_rate_limited', true],
    [500, 'upstream', 'upstream_server_error', true],
    [502, 'upstream', 'upstream_error', true],
    [503, 'overloaded', 'upstream_overloaded', true],
    [504, 'timeout', 'upstream_timeout', true],
    [529, 'overloaded', 'upstream_overloaded', true],
  ])('maps HTTP %i to %s, with the upstream’s message and retry-after', (status, kind, code, retryable) => {
    for (const body of [anthropicBody, openaiBody]) {
      const err = httpError(API, status, { 'retry-after': '3' }, body('upstream says'));
      expect(err).toMatchObject({ kind, code, retryable, retryAfterMs: 3000, detail: { status, error: { message: 'upstream says' } } });
      expect(err.message).toBe(`upstream ${API} error ${status}: upstream says`);
    }
  });

  it('maps a status it does not know by the error type, else as a client or server error', () => {
    expect(httpError(API, 418, {}, JSON.stringify({ error: { type: 'rate_limit_error', message: 'm' } }))).toMatchObject({ kind: 'rate_limited' });
    expect(httpError(API, 418, {}, '')).toMatchObject({ kind: 'invalid_request', code: 'upstream_error', message: expect.stringContaining('no message') });
  });

  it('reads the error bodies of other servers, and an excerpt of what is not one', () => {
    expect(errorBodyOf(JSON.stringify({ object: 'error', message: 'vllm says', type: 'BadRequestError' }))).toMatchObject({ message: 'vllm says' });
    expect(errorBodyOf(JSON.stringify({ detail: 'fastapi says' }))).toEqual({ message: 'fastapi says' });
    expect(errorBodyOf(JSON.stringify({ error: 'model not found' }))).toEqual({ message: 'model not found' });
    expect(errorBodyOf(JSON.stringify({ detail: [{ loc: ['body'] }] }))).toBeUndefined();
    expect(errorBodyOf('<html>bad gateway</html>')).toBeUndefined();
    expect(httpError(API, 502, {}, '<html>\n  bad gateway\n</html>').message).toContain('<html> bad gateway </html>');
  });
});

describe('retry-after', () => {
  it('reads seconds or a date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it("prefers OpenAI's retry-after-ms", () => {
    expect(retryAfterOf({ 'retry-after-ms': '1500', 'retry-after': '2' })).toBe(1500);
    expect(retryAfterOf({ 'retry-after-ms': 'x', 'retry-after': '2' })).toBe(2000);
    expect(retryAfterOf({})).toBeUndefined();
  });
});

describe('stream and transport errors', () => {
  it('maps the error types of Anthropic and OpenAI, and OpenAI codes', () => {
    expect(streamError(API, { type: 'overloaded_error', message: 'Overloaded' })).toMatchObject({ kind: 'overloaded', message: `upstream ${API} error (overloaded_error): Overloaded` });
    expect(streamError(API, { type: 'server_error', message: 'm' })).toMatchObject({ kind: 'upstream', code: 'upstream_server_error' });
    expect(streamError(API, { type: 'tokens', code: 'rate_limit_exceeded' })).toMatchObject({ kind: 'rate_limited' });
    expect(streamError(API, { type: 'something_new' })).toMatchObject({ kind: 'upstream', code: 'upstream_error' });
  });

  it('maps connection failures to unreachable and timeouts to timeout', () => {
    expect(transportError(API, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toMatchObject({ kind: 'unreachable', code: 'upstream_unreachable' });
    expect(transportError(API, Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toMatchObject({ kind: 'unreachable' });
    for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
      expect(transportError(API, Object.assign(new Error('slow'), { code }))).toMatchObject({ kind: 'timeout', code: 'upstream_timeout' });
    }
  });
});
