import type { ProviderError } from '../types.js';
import * as upstream from '../upstream-errors.js';
import type { ApiError } from './wire.js';

export { retryAfterMs } from '../upstream-errors.js';

/** How errors name the upstream. */
export const ANTHROPIC_API = 'Anthropic API';

/** An HTTP error answer of the API (any status but 200). */
export function httpError(status: number, headers: Record<string, string | string[] | undefined>, body: string): ProviderError {
  return upstream.httpError(ANTHROPIC_API, status, headers, body);
}

/** An `error` event inside a stream that began well. */
export function streamError(error: ApiError): ProviderError {
  return upstream.streamError(ANTHROPIC_API, error);
}

/** A failure to reach the API or to read its answer. */
export function transportError(err: unknown): ProviderError {
  return upstream.transportError(ANTHROPIC_API, err);
}
