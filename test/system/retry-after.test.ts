// Every 429 and 503 the gateway answers carries Retry-After (clients such as LangChain JS do not retry
// a 429 without one): from the upstream's own hint when the CLI shows it, else an estimate.
import { describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, useMockGateway, waitForWarmPool } from '../support/gateway.js';
import { completion, fetchJson } from '../support/process-helpers.js';

const NO_RETRY = { 'x-should-retry': 'false' };

// One retry by the CLI, so a rate limit reaches the gateway in seconds rather than minutes.
const ctx = useMockGateway({ env: { CLAUDE_ENV_PASSTHROUGH: 'CLAUDE_CODE_MAX_RETRIES' }, parentEnv: { CLAUDE_CODE_MAX_RETRIES: '1' } });

const post = (g: TestGateway, content: string) => fetchJson(`${g.url}/v1/chat/completions`, { body: completion(content) });
const retryAfter = (res: { headers: Headers }) => Number(res.headers.get('retry-after'));

describe('Retry-After on every 429 and 503', () => {
  it("passes on the upstream's retry-after, through the delay of the CLI's own last retry", async () => {
    await waitForWarmPool(ctx.gw); // the long-lived mode, whose stream shows the CLI's retries
    ctx.mock.on('rate limited, hinted', { kind: 'error', status: 429, headers: { 'retry-after': '3' } });
    const res = await post(ctx.gw, 'rate limited, hinted');
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('upstream_rate_limited');
    expect(retryAfter(res)).toBeGreaterThanOrEqual(3);
    expect(retryAfter(res)).toBeLessThanOrEqual(6);
  });

  it('estimates one for upstream 429 and 529 the CLI did not retry', async () => {
    ctx.mock.on('rate limited, final', { kind: 'error', status: 429, headers: NO_RETRY });
    const limited = await post(ctx.gw, 'rate limited, final');
    expect(limited.status).toBe(429);
    expect(retryAfter(limited)).toBe(30);

    ctx.mock.on('overloaded, final', { kind: 'error', status: 529, headers: NO_RETRY });
    const overloaded = await post(ctx.gw, 'overloaded, final');
    expect(overloaded.status).toBe(503);
    expect(overloaded.body.error.code).toBe('upstream_overloaded');
    expect(retryAfter(overloaded)).toBe(10);
  });

  it('is on the gateway’s own 503s: CLI missing, shutting down', async () => {
    const missing = await startGateway({ env: { CLAUDE_BIN: '/nonexistent/claude' } });
    try {
      const res = await post(missing, 'hello?');
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('claude_not_found');
      expect(retryAfter(res)).toBeGreaterThanOrEqual(1);

      await missing.app.gateway.shutdown(0);
      const closing = await post(missing, 'hello?');
      expect(closing.status).toBe(503);
      expect(closing.body.error.code).toBe('shutting_down');
      expect(retryAfter(closing)).toBeGreaterThanOrEqual(1);
    } finally {
      await missing.close();
    }
  });
});
