// Who served an answer and what it cost: the `x-gateway-model` / `x-gateway-attempts` headers of
// every chat completion answer, and the process record's `attempts` and `cost_usd`, for the real
// CLI (its own total_cost_usd) and `anthropic/<model>` (the built-in price table).
import { describe, expect, it } from 'vitest';
import { completion, fetchJson, waitForStatus } from '../support/process-helpers.js';
import { useMockGateway } from '../support/gateway.js';

const ctx = useMockGateway();
const post = (body: unknown) => fetchJson(`${ctx.gw.url}/v1/chat/completions`, { body });
const record = async (id: string) => (await fetchJson(`${ctx.gw.url}/v1/processes/${id}`)).body;

function expectServedBy(headers: Headers, target: string): void {
  expect(headers.get('x-gateway-model')).toBe(target);
  expect(headers.get('x-gateway-attempts')).toBe('1');
}

describe('the Claude CLI', () => {
  // The CLI provider's own name of `sonnet` is the alias itself: the target is named as the CLI is asked.
  it.each(['sonnet', 'claude-cli/sonnet'])('%s: served by claude-cli/sonnet, costing what the CLI reports', async (model) => {
    const res = await post(completion(`attribution ${model}`, { model }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectServedBy(res.headers, 'claude-cli/sonnet');
    expect(res.body).not.toHaveProperty('cost_usd');
    const cost = res.body.claude_metadata.total_cost_usd;
    expect(cost).toBeTypeOf('number');
    const proc = await record(res.body.process_id);
    expect(proc.attempts).toEqual([{ target: 'claude-cli/sonnet' }]);
    expect(proc.cost_usd).toBe(cost);
  });

  it('a full model name is its own target', async () => {
    const res = await post(completion('attribution full name', { model: 'claude-haiku-4-5' }));
    expectServedBy(res.headers, 'claude-cli/claude-haiku-4-5');
  });

  it('a streamed answer has the headers too', async () => {
    const res = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(completion('attribution stream', { model: 'claude-cli/sonnet', stream: true })),
    });
    expectServedBy(res.headers, 'claude-cli/sonnet');
    await res.text();
    const proc = await waitForStatus(ctx.gw.url, res.headers.get('x-process-id')!, ['completed']);
    expect(proc.attempts).toEqual([{ target: 'claude-cli/sonnet' }]);
    expect(proc.cost_usd).toBe(proc.result.claude_metadata.total_cost_usd);
  });

  it('a background process is answered with its target, and has its cost once finished', async () => {
    const res = await post(completion('attribution background', { model: 'claude-cli/sonnet', background: true }));
    expect(res.status).toBe(202);
    expectServedBy(res.headers, 'claude-cli/sonnet');
    expect(res.body.attempts).toEqual([{ target: 'claude-cli/sonnet' }]);
    expect(res.body.cost_usd).toBeNull();
    const proc = await waitForStatus(ctx.gw.url, res.body.id, ['completed']);
    expect(proc.cost_usd).toBe(proc.result.claude_metadata.total_cost_usd);
  });

  // A long-lived CLI process reports the total of all its turns: each process costs what its turn added.
  it('each turn of a session costs its own turn, not the running total', async () => {
    const first = await post(completion('attribution turn one', { model: 'claude-cli/sonnet' }));
    const second = await post(completion('attribution turn two', { model: 'claude-cli/sonnet', session_id: first.body.session_id }));
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    const [one, two] = [first.body.claude_metadata.total_cost_usd, second.body.claude_metadata.total_cost_usd];
    expect((await record(first.body.process_id)).cost_usd).toBe(one);
    expect((await record(second.body.process_id)).cost_usd).toBeCloseTo(two - one, 12);
  });
});

describe('anthropic/<model>', () => {
  it('costs the usage at the model price (input, output, cache reads and writes apart)', async () => {
    ctx.mock.on('attribution priced', {
      text: 'Priced.',
      usage: { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 3000, cache_creation_input_tokens: 400 },
    });
    const res = await post(completion('attribution priced', { model: 'anthropic/claude-sonnet-4-5' }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectServedBy(res.headers, 'anthropic/claude-sonnet-4-5');
    const proc = await record(res.body.process_id);
    expect(proc.attempts).toEqual([{ target: 'anthropic/claude-sonnet-4-5' }]);
    // 1000 × $3 + 200 × $15 + 3000 × $0.30 + 400 × $3.75 per million tokens.
    expect(proc.cost_usd).toBeCloseTo(0.0084, 10);
  });

  it('a model without a known price costs null, not a guess', async () => {
    const res = await post(completion('attribution unpriced', { model: 'anthropic/claude-future-9' }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectServedBy(res.headers, 'anthropic/claude-future-9');
    expect((await record(res.body.process_id)).cost_usd).toBeNull();
  });

  it('a failed run keeps its attempt with the error, and no cost', async () => {
    ctx.mock.on('attribution refused', { kind: 'error', status: 400, message: 'bad request' });
    const res = await post(completion('attribution refused', { model: 'anthropic/claude-haiku-4-5' }));
    expect(res.status).toBe(400);
    expectServedBy(res.headers, 'anthropic/claude-haiku-4-5');
    const proc = await record(res.headers.get('x-process-id')!);
    expect(proc.status).toBe('failed');
    expect(proc.attempts).toEqual([{ target: 'anthropic/claude-haiku-4-5', error: res.body.error }]);
    expect(proc.cost_usd).toBeNull();
  });
});
