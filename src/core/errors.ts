import { z } from 'zod';
import { ProviderError, type ProviderErrorKind, type WaitingRunLoss } from '../../providers/types.js';

/** The OpenAI error object, the only error shape the gateway ever answers with. */
export const openAIErrorSchema = z.object({
  message: z.string(),
  type: z.string(),
  param: z.string().nullable(),
  code: z.string().nullable(),
});
export type OpenAIError = z.infer<typeof openAIErrorSchema>;

interface ErrorOptions {
  param?: string | null;
  code?: string | null;
  headers?: Record<string, string>;
  /** The provider's raw output behind the error, for the session log (never sent to clients). */
  raw?: Record<string, unknown>;
  /** For a 429 or 503: when a retry may succeed, in seconds (else `DEFAULT_RETRY_AFTER_S`). */
  retryAfterSeconds?: number;
}

/** The estimate every 429 and 503 without a better one carries. */
const DEFAULT_RETRY_AFTER_S = 5;

/** Base of every error the gateway answers with; the single error handler maps it to HTTP. */
export class GatewayError extends Error {
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Record<string, string>;
  readonly raw?: Record<string, unknown>;

  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    opts: ErrorOptions = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = { ...opts.headers };
    // Every 429 and 503 says when to retry: clients such as LangChain JS do not retry one that does not.
    if ((status === 429 || status === 503) && this.headers['retry-after'] === undefined) {
      this.headers['retry-after'] = String(Math.max(1, Math.ceil(opts.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_S)));
    }
    this.raw = opts.raw;
  }

  toJSON(): OpenAIError {
    return { message: this.message, type: this.type, param: this.param, code: this.code };
  }
}

export class InvalidRequestError extends GatewayError {
  constructor(message: string, param: string | null, code: string | null = 'invalid_value') {
    super(400, 'invalid_request_error', message, { param, code });
  }
}

export class AuthenticationError extends GatewayError {
  constructor(message: string, code = 'invalid_api_key') {
    super(401, 'authentication_error', message, { code });
  }
}

/** Refused whatever the key (403): a browser on another site, a Host the gateway does not serve. */
export class ForbiddenError extends GatewayError {
  constructor(message: string, code: string) {
    super(403, 'permission_error', message, { code });
  }
}

/** The request did not arrive in full within REQUEST_RECEIVE_TIMEOUT_MS (408). */
export class RequestTimeoutError extends GatewayError {
  constructor() {
    super(408, 'invalid_request_error', 'the request was not received in time: send the head and the body promptly', {
      code: 'request_timeout',
    });
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, param: string | null, code: string) {
    super(404, 'invalid_request_error', message, { param, code });
  }
}

/** A requested model no provider serves. */
export function modelNotFound(model: string): NotFoundError {
  return new NotFoundError(`the model '${model}' does not exist (see GET /v1/models)`, 'model', 'model_not_found');
}

/** The key has spent its budget (`daily` until the next UTC day; `total` until the config gives it more). */
export class BudgetExceededError extends GatewayError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'insufficient_quota', message, { code: 'budget_exceeded', retryAfterSeconds });
  }
}

/** The key may not use this model (its `models` allow-list in GATEWAY_CONFIG). */
export class ModelNotAllowedError extends GatewayError {
  constructor(model: string) {
    super(403, 'permission_error', `this API key may not use the model '${model}'`, { param: 'model', code: 'model_not_allowed' });
  }
}

/** The path exists, but not for this method; `Allow` lists the methods it has. */
export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(405, 'invalid_request_error', `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, {
      code: 'method_not_allowed',
      headers: { allow: allowed.join(', ') },
    });
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limit: number) {
    super(413, 'invalid_request_error', `request body is larger than ${limit} bytes`, { code: 'payload_too_large' });
  }
}

export class QueueFullError extends GatewayError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limit_error', 'too many requests: the queue of waiting completions is full, retry later', {
      code: 'queue_full',
      retryAfterSeconds,
    });
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(message: string, code: string) {
    super(503, 'api_error', message, { code });
  }
}

export class DeadlineError extends GatewayError {
  constructor(ms: number) {
    super(504, 'timeout_error', `the Claude CLI did not finish within the deadline of ${ms} ms`, { code: 'deadline_exceeded' });
  }
}

export type CancelReason = 'deleted' | 'client_disconnected' | 'shutdown' | 'abandoned';

const CANCELLATIONS: Record<CancelReason, { status: number; code: string; message: string }> = {
  deleted: { status: 409, code: 'cancelled', message: 'the process was cancelled (DELETE /v1/processes/{id})' },
  // 499 is nginx's "client closed request": nobody is left to read it.
  client_disconnected: { status: 499, code: 'client_disconnected', message: 'the process was cancelled: the client disconnected' },
  shutdown: { status: 503, code: 'shutting_down', message: 'the process was cancelled: the gateway is shutting down' },
  abandoned: {
    status: 409,
    code: 'tool_calls_abandoned',
    message: 'the tool calls were abandoned: the session went on with a new message instead of their results',
  },
};

/** The process was cancelled: by DELETE, by its client going away, or by shutdown. */
export class CancelledError extends GatewayError {
  constructor(readonly reason: CancelReason) {
    const c = CANCELLATIONS[reason];
    super(c.status, 'cancelled', c.message, { code: c.code });
  }
}

const FALLBACK = 'sending the tool results now starts a fresh run from the conversation';
const RUN_LOSSES: Record<WaitingRunLoss, { status: number; code: string; message: string }> = {
  exited: { status: 502, code: 'cli_exited', message: `the CLI process of this run exited while it waited for the tool results; ${FALLBACK}` },
  evicted: {
    status: 503,
    code: 'tool_wait_evicted',
    message: `this run stopped waiting for the tool results to make room for newer waiting runs (MAX_PARKED_RUNS, POOL_MAX_PROCESSES); ${FALLBACK}`,
  },
};

/** A run waiting for client tool results ended without them (its process of a `requires_action` record fails with it). */
export class WaitingRunLostError extends GatewayError {
  constructor(why: WaitingRunLoss) {
    const l = RUN_LOSSES[why];
    super(l.status, 'api_error', l.message, { code: l.code });
  }
}

/** The cause of a failed file operation, for messages: `ENOSPC (no space left on device)`. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    // Node's fs messages read `ENOSPC: no space left on device, write`.
    const text = new RegExp(`^${code}: ([^,]+)`).exec(message)?.[1] ?? message;
    return `${code} (${text})`;
  }
  return err instanceof Error ? `${err.name}: ${message}` : message;
}

/**
 * A record or log line the gateway could not write: 507 when the disk is full, 503 when the file
 * system refuses otherwise (read-only, I/O error, permissions), 500 when the data itself could not
 * be serialized. The process fails with it rather than answering what it could not record.
 */
export class StorageError extends GatewayError {
  constructor(status: 500 | 503 | 507, code: string, message: string, cause: unknown) {
    super(status, 'api_error', message, { code });
    this.cause = cause;
  }
}

const DISK_FULL: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

/** The one mapping of a failed write (errno or otherwise) to the error the client gets. */
export function storageError(err: unknown, what: string): StorageError {
  return failedWrite(err, `could not write ${what}`);
}

/** `failure` says what could not be written; the cause and the status come from `err`. */
function failedWrite(err: unknown, failure: string): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = `${failure}: ${describeFsError(err)}`;
  if (typeof code === 'string' && DISK_FULL.has(code)) return new StorageError(507, 'storage_full', message, err);
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return new StorageError(503, 'storage_unavailable', message, err);
  return new StorageError(500, 'storage_error', message, err);
}

/** What each kind of provider failure is to the client (a storage failure takes its status from its errno). */
const PROVIDER_ERRORS: Record<Exclude<ProviderErrorKind, 'storage'>, { status: number; type: string }> = {
  invalid_request: { status: 400, type: 'invalid_request_error' },
  auth: { status: 401, type: 'authentication_error' },
  permission: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  too_large: { status: 413, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  // The upstream's own 5xx is a bad gateway to our client; its overload stays a 503 (529 included).
  upstream: { status: 502, type: 'api_error' },
  unreachable: { status: 502, type: 'api_error' },
  bad_output: { status: 502, type: 'api_error' },
  cancelled: { status: 502, type: 'api_error' },
  overloaded: { status: 503, type: 'overloaded_error' },
  unavailable: { status: 503, type: 'api_error' },
  timeout: { status: 504, type: 'timeout_error' },
};

/** The one place a provider's failure becomes the OpenAI error the client gets. */
export function fromProviderError(err: ProviderError): GatewayError {
  if (err.kind === 'storage') return failedWrite(err.cause, err.message);
  const { status, type } = PROVIDER_ERRORS[err.kind];
  return new GatewayError(status, type, err.message, {
    param: err.param,
    code: err.code,
    raw: err.detail,
    retryAfterSeconds: err.retryAfterMs === undefined ? undefined : err.retryAfterMs / 1000,
  });
}

/** A thrown error in the gateway's terms when it is one the gateway knows (its own or a provider's). */
export function knownError(err: unknown): GatewayError | undefined {
  if (err instanceof GatewayError) return err;
  return err instanceof ProviderError ? fromProviderError(err) : undefined;
}

/** The gateway cannot start (a directory it must write is not writable…): printed as one line. */
export class StartupError extends Error {
  override name = 'StartupError';
}
