// Streaming with the real Claude CLI against the mock upstream, through the official OpenAI SDK.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { type TestGateway, startGateway, useMockGateway, waitForWarmPool } from '../support/gateway.js';
import { fetchJson, processesMatching, waitFor, waitForStatus } from '../support/process-helpers.js';

const ctx = useMockGateway();

const DELTAS = ['Alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon ', 'zeta ', 'eta ', 'theta.'];

describe('streaming chat completions (real CLI)', () => {
  it('streams deltas as the upstream produces them, with role, session_id, usage and the full text', async () => {
    ctx.mock.on('SLOW_STREAM_MARKER', {
      text: DELTAS,
      chunkDelayMs: 150,
      usage: { input_tokens: 21, output_tokens: 13, cache_read_input_tokens: 7 },
    });
    const { data: stream, response } = await ctx.gw.openai.chat.completions
      .create({
        model: 'claude-cli/sonnet',
        messages: [{ role: 'user', content: 'please stream SLOW_STREAM_MARKER' }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const processId = response.headers.get('x-process-id');
    expect(processId).toMatch(/^proc_/);

    const chunks: any[] = [];
    const contentArrivals: number[] = [];
    let content = '';
    for await (const chunk of stream) {
      chunks.push(chunk);
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) {
        contentArrivals.push(Date.now());
        content += delta;
      }
    }
    const ended = Date.now();

    // first chunk: role and the session / process ids
    const first = chunks[0];
    expect(first.object).toBe('chat.completion.chunk');
    expect(first.choices[0].delta.role).toBe('assistant');
    expect(first.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.process_id).toBe(processId);
    expect(response.headers.get('x-session-id')).toBe(first.session_id);

    // the content is exactly the mock's, and it arrived spread over time, not in one burst at the end
    expect(content).toBe(DELTAS.join(''));
    expect(contentArrivals.length).toBeGreaterThanOrEqual(4);
    const spread = contentArrivals.at(-1)! - contentArrivals[0]!;
    expect(spread).toBeGreaterThan(600); // 7 gaps of 150 ms upstream
    expect(ended - contentArrivals[0]!).toBeGreaterThan(600);
    // at least half of the gaps between consecutive deltas are real pauses
    const gaps = contentArrivals.slice(1).map((t, i) => t - contentArrivals[i]!);
    expect(gaps.filter((g) => g >= 75).length).toBeGreaterThanOrEqual(Math.floor(gaps.length / 2));

    // one chunk with the finish reason, then the usage chunk with the mock's numbers
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0].choices[0].finish_reason).toBe('stop');
    const usageChunk = chunks.at(-1);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({
      prompt_tokens: 21 + 7,
      completion_tokens: 13,
      total_tokens: 21 + 7 + 13,
      prompt_tokens_details: { cached_tokens: 7 },
    });
    for (const c of chunks) expect(c.id).toBe(first.id);

    const record = await waitForStatus(ctx.gw.url, processId!, ['completed']);
    expect(record.result.choices[0].message.content).toBe(DELTAS.join(''));
    expect(record.session_id).toBe(first.session_id);
  });

  it('without include_usage sends no usage chunk and ends with [DONE]', async () => {
    ctx.mock.on('NO_USAGE_MARKER', { text: ['one ', 'two'] });
    const res = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', stream: true, messages: [{ role: 'user', content: 'NO_USAGE_MARKER' }] }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
    expect(chunks.every((c) => c.usage === undefined || c.usage === null)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('one two');
  });

  /** Streams a slow answer and aborts after two deltas; returns the first chunk and the CLI pids seen. */
  async function abortAfterTwoDeltas(gw: TestGateway, marker: string) {
    ctx.mock.on(marker, { text: Array.from({ length: 30 }, (_, i) => `w${i} `), chunkDelayMs: 200 });
    const stream = await gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: `${marker} please` }],
      stream: true,
    });
    let first: any;
    let deltas = 0;
    let cliPids: number[] = [];
    for await (const chunk of stream) {
      first ??= chunk;
      if (chunk.choices[0]?.delta?.content) deltas++;
      if (deltas === 2) {
        // the run's CLI is alive right now: found by the session id on its command line
        cliPids = processesMatching(`--session-id=${first.session_id}`);
        stream.controller.abort();
      }
    }
    const abortedAt = Date.now();
    expect(deltas).toBe(2);
    expect(cliPids.length).toBeGreaterThan(0);
    const record = await waitForStatus(gw.url, first.process_id, ['cancelled', 'failed', 'completed'], 2_000);
    expect(Date.now() - abortedAt).toBeLessThan(2_500);
    expect(record.status).toBe('cancelled');
    expect(record.error).toMatchObject({ code: 'client_disconnected' });
    expect(record.result).toBeNull();
    return { first, cliPids };
  }

  it('aborting mid-stream interrupts a pooled CLI, which stays for the next turn of its session', async () => {
    await waitForWarmPool(ctx.gw); // the pooled path, not the one-shot one used until the pool has proved itself
    const { first, cliPids } = await abortAfterTwoDeltas(ctx.gw, 'ABORT_POOLED');
    // the interrupted process is kept: same pid, and the session goes on in it
    expect(processesMatching(`--session-id=${first.session_id}`)).toEqual(cliPids);
    const next: any = await ctx.gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'after the interrupt' }],
      // @ts-expect-error gateway extension
      session_id: first.session_id,
    });
    expect(next.choices[0].message.content).toBe('Hello from mock');
    expect(next.claude_metadata.session_id).toBe(first.session_id);
    expect(processesMatching(`--session-id=${first.session_id}`)).toEqual(cliPids);
    expect(JSON.stringify(ctx.mock.messageRequests().at(-1)!.body.messages)).toContain('ABORT_POOLED please');
  });

  it('aborting mid-stream without the pool kills the CLI and its whole group', async () => {
    const gw = await startGateway({ mock: ctx.mock, env: { POOL_SIZE: '0' } });
    try {
      const { first } = await abortAfterTwoDeltas(gw, 'ABORT_ONESHOT');
      await waitFor(() => processesMatching(`--session-id=${first.session_id}`).length === 0, {
        timeoutMs: 2_000,
        what: 'the CLI of the aborted run to exit',
      });
      // nothing at all of this gateway's CLI processes is left (CLAUDE_CONFIG_DIR is under the gateway's dir)
      expect(processesMatching(gw.dir)).toEqual([]);
      const again = await gw.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'hi after abort' }] });
      expect(again.choices[0]!.message.content).toBe('Hello from mock');
    } finally {
      await gw.close();
    }
  });

  it('an upstream error before anything was streamed answers with its status, and a failed record', async () => {
    ctx.mock.on('OVERLOAD_MARKER', { kind: 'error', status: 529, headers: { 'x-should-retry': 'false' } });
    const caught = await ctx.gw.openai.chat.completions
      .create({ model: 'sonnet', messages: [{ role: 'user', content: 'OVERLOAD_MARKER' }], stream: true })
      .then(() => undefined, (err: unknown) => err);
    // Nothing had gone out: the stream never opened, and the error came with its own status.
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    const apiErr = caught as InstanceType<typeof OpenAI.APIError>;
    expect(apiErr.status).toBe(503);
    expect(apiErr.error).toMatchObject({ code: 'upstream_overloaded', type: 'overloaded_error' });
    expect(apiErr.message).toMatch(/529/);
    const processId = apiErr.headers?.get('x-process-id');
    expect(processId).toBeTruthy();
    const record = (await fetchJson(`${ctx.gw.url}/v1/processes/${processId}`)).body;
    expect(record.status).toBe('failed');
    expect(record.error).toMatchObject({ code: 'upstream_overloaded' });
  });
});
