/**
 * The failures of an HTTP model API as ProviderErrors. Anthropic's API, OpenAI's and the servers that
 * copy OpenAI's answer with the same statuses and nearly the same error bodies, so one mapping
 * serves every HTTP provider; `api` names the upstream in the messages (`Anthropic API`).
 */
import { z } from 'zod';
import { ProviderError, type ProviderErrorKind } from './types.js';

interface Known {
  kind: ProviderErrorKind;
  code: string;
}

const INVALID: Known = { kind: 'invalid_request', code: 'upstream_invalid_request' };
const RATE_LIMITED: Known = { kind: 'rate_limited', code: 'upstream_rate_limited' };
const SERVER_ERROR: Known = { kind: 'upstream', code: 'upstream_server_error' };
const OVERLOADED: Known = { kind: 'overloaded', code: 'upstream_overloaded' };

// The codes the Claude CLI provider gives the same failures (providers/claude-cli/result.ts).
const BY_STATUS: Record<number, Known> = {
  400: INVALID,
  401: { kind: 'auth', code: 'upstream_authentication_error' },
  403: { kind: 'permission', code: 'upstream_permission_error' },
  404: { kind: 'not_found', code: 'upstream_not_found' },
  413: { kind: 'too_large', code: 'upstream_request_too_large' },
  // OpenAI-compatible servers (vLLM, FastAPI-based ones) refuse a body they cannot validate with 422.
  422: INVALID,
  429: RATE_LIMITED,
  500: SERVER_ERROR,
  503: OVERLOADED,
  504: { kind: 'timeout', code: 'upstream_timeout' },
  529: OVERLOADED,
};

/**
 * Error types (and OpenAI's codes) of error bodies, for errors that come inside a stream (no status)
 * and for statuses the table above does not know: Anthropic's, then OpenAI's.
 */
const BY_TYPE: Record<string, Known> = {
  invalid_request_error: INVALID,
  authentication_error: BY_STATUS[401]!,
  permission_error: BY_STATUS[403]!,
  not_found_error: BY_STATUS[404]!,
  request_too_large: BY_STATUS[413]!,
  rate_limit_error: RATE_LIMITED,
  api_error: SERVER_ERROR,
  overloaded_error: OVERLOADED,
  timeout_error: BY_STATUS[504]!,
  server_error: SERVER_ERROR,
  rate_limit_exceeded: RATE_LIMITED,
};

const UNKNOWN: Known = { kind: 'upstream', code: 'upstream_error' };

/** What an error body says, as far as the mapping reads it (the rest is kept for the detail). */
const errorBodySchema = z.looseObject({
  type: z.string().nullish(),
  message: z.string().nullish(),
  code: z.union([z.string(), z.number()]).nullish(),
});
export type UpstreamErrorBody = z.infer<typeof errorBodySchema>;

/**
 * The error of an error answer's body: `{error: {type, message}}` (Anthropic, OpenAI), `{error: "…"}`,
 * or the error at the top (`{object: "error", message}` of older vLLM, `{detail}` of FastAPI servers).
 */
export function errorBodyOf(body: string): UpstreamErrorBody | undefined {
  try {
    return errorOf(JSON.parse(body));
  } catch {
    return undefined;
  }
}

/** The error of a parsed error body (or of an error chunk in a stream), as `errorBodyOf` reads it. */
export function errorOf(json: unknown): UpstreamErrorBody | undefined {
  if (!json || typeof json !== 'object') return undefined;
  const top = json as { error?: unknown; detail?: unknown };
  const error = top.error ?? (typeof top.detail === 'string' ? { message: top.detail } : json);
  if (typeof error === 'string') return { message: error };
  const parsed = errorBodySchema.safeParse(error).data;
  return parsed && (parsed.message || parsed.type) ? parsed : undefined;
}

function knownOf(error: UpstreamErrorBody | undefined): Known | undefined {
  return (error?.type && BY_TYPE[error.type]) || (typeof error?.code === 'string' && BY_TYPE[error.code]) || undefined;
}

/** `retry-after` in seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** When to retry, by OpenAI's precise `retry-after-ms` when the answer has one, else by `retry-after`. */
export function retryAfterOf(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const raw = headers['retry-after-ms'];
  const ms = Number(Array.isArray(raw) ? raw[0] : raw);
  if (raw !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  return retryAfterMs(headers['retry-after'], now);
}

function excerpt(raw: string, max = 500): string {
  const flat = raw.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** An HTTP error answer of the API (any status but 200). */
export function httpError(api: string, status: number, headers: Record<string, string | string[] | undefined>, body: string): ProviderError {
  const error = errorBodyOf(body);
  const known = BY_STATUS[status] ?? knownOf(error) ?? (status >= 500 ? UNKNOWN : { kind: 'invalid_request', code: 'upstream_error' });
  const text = error?.message ?? (excerpt(body) || 'no message');
  return new ProviderError(known.kind, `upstream ${api} error ${status}: ${text}`, {
    code: known.code,
    retryAfterMs: retryAfterOf(headers),
    detail: error ? { status, error } : { status },
  });
}

/** An error the API sent inside a stream that began well. */
export function streamError(api: string, error: UpstreamErrorBody): ProviderError {
  const known = knownOf(error) ?? UNKNOWN;
  return new ProviderError(known.kind, `upstream ${api} error (${error.type ?? error.code ?? 'unknown'}): ${error.message ?? 'no message'}`, {
    code: known.code,
    detail: { error },
  });
}

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A failure to reach the API or to read its answer (undici's and the socket's errors). */
export function transportError(api: string, err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && TIMEOUTS.has(code)) {
    return new ProviderError('timeout', `upstream ${api} timed out: ${message}`, { code: 'upstream_timeout', cause: err });
  }
  return new ProviderError('unreachable', `upstream ${api} unreachable: ${message}${typeof code === 'string' ? ` (${code})` : ''}`, {
    code: 'upstream_unreachable',
    cause: err,
  });
}
