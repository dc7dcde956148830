import { z } from 'zod';
import { type FinishReason, ProviderError, type ProviderErrorKind, type ProviderResult, type TokenUsage } from '../types.js';
import { excerpt } from './failure.js';
import type { CliOutput, ToolStop } from './output.js';
import { STRUCTURED_OUTPUT_TOOL, schemaRefused } from './structured-output.js';

const count = z.number().nonnegative().catch(0).default(0);

/** The CLI's `result` object (its last line of output); unknown fields are kept, they go out as `claude_metadata`. */
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
 * Upstream HTTP statuses the CLI reports, and what they mean to the gateway's client; for a 429 or
 * 503 with when to retry, when the CLI did not retry itself (the CLI never passes the upstream's
 * `retry-after` on; it has already retried 429s for minutes unless told not to).
 */
const UPSTREAM_STATUS: Record<number, { kind: ProviderErrorKind; code: string; retryAfterMs?: number }> = {
  400: { kind: 'invalid_request', code: 'upstream_invalid_request' },
  401: { kind: 'auth', code: 'upstream_authentication_error' },
  403: { kind: 'permission', code: 'upstream_permission_error' },
  404: { kind: 'not_found', code: 'upstream_not_found' },
  413: { kind: 'too_large', code: 'upstream_request_too_large' },
  429: { kind: 'rate_limited', code: 'upstream_rate_limited', retryAfterMs: 30_000 },
  500: { kind: 'upstream', code: 'upstream_server_error' },
  503: { kind: 'overloaded', code: 'upstream_overloaded', retryAfterMs: 10_000 },
  529: { kind: 'overloaded', code: 'upstream_overloaded', retryAfterMs: 10_000 },
};

function upstreamError(res: CliResult, out: CliOutput): ProviderError {
  const text = res.result ?? res.errors?.join('; ') ?? 'unknown error';
  const status = res.api_error_status;
  if (typeof status === 'number') {
    const known = UPSTREAM_STATUS[status] ?? { kind: 'upstream', code: 'upstream_error' };
    return new ProviderError(known.kind, `upstream Anthropic API error ${status}: ${text}`, {
      code: known.code,
      detail: res,
      // The CLI's last retry delay follows the upstream's retry-after: the best hint there is.
      retryAfterMs: out.retryDelayMs ?? known.retryAfterMs,
    });
  }
  if (/not logged in/i.test(text)) {
    return new ProviderError(
      'auth',
      `the gateway's Claude CLI is not logged in (set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN for the gateway): ${text}`,
      { code: 'upstream_not_logged_in', detail: res },
    );
  }
  if (/timed out|timeout/i.test(text)) {
    return new ProviderError('timeout', `upstream Anthropic API timed out: ${text}`, { code: 'upstream_timeout', detail: res });
  }
  if (/API Error/i.test(text)) {
    return new ProviderError('unreachable', `upstream Anthropic API unreachable: ${text}`, { code: 'upstream_unreachable', detail: res });
  }
  return new ProviderError('bad_output', `the Claude CLI reported an error: ${excerpt(text)}`, { code: 'cli_error', detail: res });
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
    throw new ProviderError('bad_output', `the Claude CLI printed a result the gateway cannot read: ${excerpt(out.excerpt())}`, {
      code: 'bad_cli_output',
    });
  }
  const res = parsed.data;
  const limited = res.subtype === 'error_max_turns' || res.subtype === 'error_max_budget_usd';
  if (res.subtype === 'error_during_execution') {
    // Interrupted from elsewhere (a SIGINT, say): the gateway's own aborts end a run with their signal's reason.
    throw new ProviderError('cancelled', `the Claude CLI run was aborted (${res.terminal_reason ?? 'unknown reason'})`, {
      code: 'cli_aborted',
      detail: res,
    });
  }
  if ((res.is_error && !limited) || res.terminal_reason === 'api_error') throw upstreamError(res, out);
  // With a schema the answer is the structured output; a run that ends without it failed.
  const output = (res as { structured_output?: unknown }).structured_output;
  if (structured && (output === undefined || output === null) && !limited) {
    // A schema the CLI refused (given in initialize, it says so only by leaving the tool out).
    if (out.tools && !out.tools.includes(STRUCTURED_OUTPUT_TOOL)) throw schemaRefused(`its run has no ${STRUCTURED_OUTPUT_TOOL} tool`);
    throw new ProviderError('bad_output', 'the model finished without producing the structured output the response_format asks for', {
      code: 'structured_output_missing',
      detail: res,
    });
  }
  return {
    text: structured && output !== undefined && output !== null ? JSON.stringify(output) : (res.result ?? ''),
    sessionId: res.session_id,
    finishReason: finishReason(res),
    usage: toTokenUsage(res.usage),
    costUsd: totalCost(res),
    raw: res,
  };
}

/** The CLI's `total_cost_usd`: what its process has cost so far (it adds up over a long-lived one's turns), or null. */
export function totalCost(raw: unknown): number | null {
  const cost = (raw as { total_cost_usd?: unknown } | undefined)?.total_cost_usd;
  return typeof cost === 'number' && Number.isFinite(cost) ? cost : null;
}

/** The CLI's token counts (the Anthropic API's names) as providers report them. */
export function toTokenUsage(u: ToolStop['usage']): TokenUsage {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadTokens: u.cache_read_input_tokens,
    cacheCreationTokens: u.cache_creation_input_tokens,
  };
}
