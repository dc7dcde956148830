import { z } from 'zod';
import {
  BadCliOutputError,
  GatewayError,
  UpstreamError,
  excerpt,
} from '../../src/errors.js';
import type { FinishReason, ProviderResult } from '../types.js';
import type { CliOutput } from './output.js';
import { STRUCTURED_OUTPUT_TOOL, schemaRefused } from './structured-output.js';

const count = z.number().nonnegative().catch(0).default(0);

/** The CLI's `result` object (reference §1); unknown fields are kept, they go out as `claude_metadata`. */
export const cliResultSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean(),
  session_id: z.string(),
  result: z.string().nullish(),
  api_error_status: z.number().nullish(),
  stop_reason: z.string().nullish(),
  terminal_reason: z.string().nullish(),
  errors: z.array(z.string()).optional(),
  usage: z
    .looseObject({
      input_tokens: count,
      output_tokens: count,
      cache_read_input_tokens: count,
      cache_creation_input_tokens: count,
    })
    .default({ input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }),
});
export type CliResult = z.infer<typeof cliResultSchema>;

/**
 * Upstream HTTP statuses the CLI reports, mapped to what they mean to the gateway's client; for a 429
 * or 503 with when to retry, in seconds, when the CLI did not retry itself (the CLI never passes the
 * upstream's `retry-after` on; it has already retried 429s for minutes unless told not to).
 */
const UPSTREAM_STATUS: Record<number, { status: number; type: string; code: string; retryAfterS?: number }> = {
  400: { status: 400, type: 'invalid_request_error', code: 'upstream_invalid_request' },
  401: { status: 401, type: 'authentication_error', code: 'upstream_authentication_error' },
  403: { status: 403, type: 'permission_error', code: 'upstream_permission_error' },
  404: { status: 404, type: 'invalid_request_error', code: 'upstream_not_found' },
  413: { status: 413, type: 'invalid_request_error', code: 'upstream_request_too_large' },
  429: { status: 429, type: 'rate_limit_error', code: 'upstream_rate_limited', retryAfterS: 30 },
  500: { status: 502, type: 'api_error', code: 'upstream_server_error' },
  503: { status: 503, type: 'overloaded_error', code: 'upstream_overloaded', retryAfterS: 10 },
  529: { status: 503, type: 'overloaded_error', code: 'upstream_overloaded', retryAfterS: 10 },
};

function upstreamError(res: CliResult, out: CliOutput): GatewayError {
  const text = res.result ?? res.errors?.join('; ') ?? 'unknown error';
  const status = res.api_error_status;
  if (typeof status === 'number') {
    const known = UPSTREAM_STATUS[status] ?? { status: 502, type: 'api_error', code: 'upstream_error' };
    // The CLI's last retry delay follows the upstream's retry-after: the best hint there is.
    const retryAfter = out.retryDelayMs !== undefined ? out.retryDelayMs / 1000 : known.retryAfterS;
    return new UpstreamError(known.status, known.type, `upstream Anthropic API error ${status}: ${text}`, known.code, res, retryAfter);
  }
  if (/not logged in/i.test(text)) {
    return new UpstreamError(
      401,
      'authentication_error',
      `the gateway's Claude CLI is not logged in (set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN for the gateway): ${text}`,
      'upstream_not_logged_in',
      res,
    );
  }
  if (/timed out|timeout/i.test(text)) {
    return new UpstreamError(504, 'timeout_error', `upstream Anthropic API timed out: ${text}`, 'upstream_timeout', res);
  }
  if (/API Error/i.test(text)) {
    return new UpstreamError(502, 'api_error', `upstream Anthropic API unreachable: ${text}`, 'upstream_unreachable', res);
  }
  return new BadCliOutputError(`the Claude CLI reported an error: ${excerpt(text)}`, 'cli_error', res);
}

function finishReason(res: CliResult): FinishReason {
  if (res.subtype === 'error_max_turns' || res.subtype === 'error_max_budget_usd') return 'length';
  return res.stop_reason === 'max_tokens' ? 'length' : 'stop';
}

/**
 * Turns a parsed CLI result into the provider's result, or throws the error it stands for; `out`
 * is the run's output so far. `structured`: the run was asked for structured output.
 */
export function mapCliResult(raw: unknown, out: CliOutput, structured = false): ProviderResult {
  const parsed = cliResultSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BadCliOutputError(`the Claude CLI printed a result the gateway cannot read: ${excerpt(out.excerpt())}`);
  }
  const res = parsed.data;
  const limited = res.subtype === 'error_max_turns' || res.subtype === 'error_max_budget_usd';
  if (res.subtype === 'error_during_execution') {
    throw new BadCliOutputError(`the Claude CLI run was aborted (${res.terminal_reason ?? 'unknown reason'})`, 'cli_aborted', res);
  }
  if ((res.is_error && !limited) || res.terminal_reason === 'api_error') throw upstreamError(res, out);
  // With a schema the answer is the structured output; a run that ends without it failed.
  const output = (res as { structured_output?: unknown }).structured_output;
  if (structured && (output === undefined || output === null) && !limited) {
    // A schema the CLI refused (given in initialize, it says so only by leaving the tool out).
    if (out.tools && !out.tools.includes(STRUCTURED_OUTPUT_TOOL)) throw schemaRefused(`its run has no ${STRUCTURED_OUTPUT_TOOL} tool`);
    throw new BadCliOutputError(
      'the model finished without producing the structured output the response_format asks for',
      'structured_output_missing',
      res,
    );
  }
  return {
    text: structured && output !== undefined && output !== null ? JSON.stringify(output) : (res.result ?? ''),
    sessionId: res.session_id,
    finishReason: finishReason(res),
    usage: {
      inputTokens: res.usage.input_tokens,
      outputTokens: res.usage.output_tokens,
      cacheReadTokens: res.usage.cache_read_input_tokens,
      cacheCreationTokens: res.usage.cache_creation_input_tokens,
    },
    raw: res,
  };
}
