import { z } from 'zod';

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
}

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
    this.headers = opts.headers ?? {};
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

export class NotFoundError extends GatewayError {
  constructor(message: string, param: string | null, code: string) {
    super(404, 'invalid_request_error', message, { param, code });
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
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
}

/** An error the upstream Anthropic API reported through the CLI, keeping its meaning. */
export class UpstreamError extends GatewayError {
  constructor(status: number, type: string, message: string, code: string, raw?: Record<string, unknown>) {
    super(status, type, message, { code, raw });
  }
}

/** The CLI answered something the gateway cannot use (502). */
export class BadCliOutputError extends GatewayError {
  constructor(message: string, code = 'bad_cli_output', raw?: Record<string, unknown>) {
    super(502, 'api_error', message, { code, raw });
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(message: string, code: string) {
    super(503, 'api_error', message, { code });
  }
}

export class CliNotFoundError extends ServiceUnavailableError {
  constructor(bin: string) {
    super(`claude executable not found: ${bin} (install @anthropic-ai/claude-code or set CLAUDE_BIN)`, 'claude_not_found');
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

/** Keeps error excerpts of raw CLI output short and printable. */
export function excerpt(raw: string, max = 500): string {
  const flat = raw.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
