import { ProviderError, type ProviderErrorKind } from '../types.js';
import { type ApiError, apiErrorSchema } from './wire.js';

interface Known {
  kind: ProviderErrorKind;
  code: string;
}

// The codes the Claude CLI provider gives the same failures (providers/claude-cli/result.ts).
const BY_STATUS: Record<number, Known> = {
  400: { kind: 'invalid_request', code: 'upstream_invalid_request' },
  401: { kind: 'auth', code: 'upstream_authentication_error' },
  403: { kind: 'permission', code: 'upstream_permission_error' },
  404: { kind: 'not_found', code: 'upstream_not_found' },
  413: { kind: 'too_large', code: 'upstream_request_too_large' },
  429: { kind: 'rate_limited', code: 'upstream_rate_limited' },
  500: { kind: 'upstream', code: 'upstream_server_error' },
  503: { kind: 'overloaded', code: 'upstream_overloaded' },
  504: { kind: 'timeout', code: 'upstream_timeout' },
  529: { kind: 'overloaded', code: 'upstream_overloaded' },
};

/** The API's error types, for errors that come inside a stream (no status). */
const BY_TYPE: Record<string, Known> = {
  invalid_request_error: BY_STATUS[400]!,
  authentication_error: BY_STATUS[401]!,
  permission_error: BY_STATUS[403]!,
  not_found_error: BY_STATUS[404]!,
  request_too_large: BY_STATUS[413]!,
  rate_limit_error: BY_STATUS[429]!,
  api_error: BY_STATUS[500]!,
  overloaded_error: BY_STATUS[529]!,
  timeout_error: BY_STATUS[504]!,
};

const UNKNOWN: Known = { kind: 'upstream', code: 'upstream_error' };

/** `retry-after` in seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function excerpt(raw: string, max = 500): string {
  const flat = raw.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The `{type:'error', error:{type, message}}` of an error body, when it is one. */
function apiErrorOf(body: string): ApiError | undefined {
  try {
    return apiErrorSchema.safeParse((JSON.parse(body) as { error?: unknown }).error).data;
  } catch {
    return undefined;
  }
}

/** An HTTP error answer of the API (any status but 200). */
export function httpError(status: number, headers: Record<string, string | string[] | undefined>, body: string): ProviderError {
  const error = apiErrorOf(body);
  const known = BY_STATUS[status] ?? (error && BY_TYPE[error.type]) ?? (status >= 500 ? UNKNOWN : { kind: 'invalid_request', code: 'upstream_error' });
  const text = error?.message ?? (excerpt(body) || 'no message');
  return new ProviderError(known.kind, `upstream Anthropic API error ${status}: ${text}`, {
    code: known.code,
    retryAfterMs: retryAfterMs(headers['retry-after']),
    detail: error ? { status, error } : { status },
  });
}

/** An `error` event inside a stream that began well. */
export function streamError(error: ApiError): ProviderError {
  const known = BY_TYPE[error.type] ?? UNKNOWN;
  return new ProviderError(known.kind, `upstream Anthropic API error (${error.type}): ${error.message ?? 'no message'}`, {
    code: known.code,
    detail: { error },
  });
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A failure to reach the API or to read its answer (undici's and the socket's errors). */
export function transportError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && TIMEOUTS.has(code)) {
    return new ProviderError('timeout', `upstream Anthropic API timed out: ${message}`, { code: 'upstream_timeout', cause: err });
  }
  return new ProviderError('unreachable', `upstream Anthropic API unreachable: ${message}${typeof code === 'string' ? ` (${code})` : ''}`, {
    code: 'upstream_unreachable',
    cause: err,
  });
}
