import type { GatewayError } from '../core/errors.js';
import type { AnthropicErrorBody } from './schemas.js';

/** The Messages API's error type for each status the gateway answers with. */
const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** Anthropic's error type of a status: by the table, else `invalid_request_error` for a 4xx and `api_error` for a 5xx. */
export function anthropicErrorType(status: number): string {
  return TYPES[status] ?? (status < 500 ? 'invalid_request_error' : 'api_error');
}

/** A GatewayError as the Messages API's error body: same status, its message, Anthropic's type. */
export function toAnthropicError(err: GatewayError): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(err.status), message: err.message } };
}
