// Runs parked waiting for the results of client function calls, when their process goes away: killed
// (the process fails at once, not at the end of its TTL) or evicted to keep within MAX_PARKED_RUNS and
// POOL_MAX_PROCESSES (clients that call a function and never send its result would otherwise keep a
// CLI process each for the whole TTL). Results that arrive later still get an answer from a fresh run.
// Real CLI against the mock upstream.
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway } from '../support/gateway.js';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { fetchJson, openEvents, processesMatching, waitFor, waitForStatus } from '../support/process-helpers.js';

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type Call = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'the weather', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
};

let mock: MockUpstream;
beforeAll(async () => {
  mock = await startMockAnthropic();
});
afterAll(async () => {
  await mock?.close();
});

interface Parked {
  processId: string;
  sessionId: string;
  /** The conversation as the client would send it back with `answer` as every call's result. */
  withResults(answer: string): Msg[];
}

/** A completion whose model calls a client function: its run parks, waiting for the result. */
async function park(g: TestGateway, city: string): Promise<Parked> {
  const question = `weather in ${city}?`;
  mock.on(question, { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: city } });
  const messages: Msg[] = [{ role: 'user', content: question }];
  const first = await g.openai.chat.completions.create({ model: 'sonnet', messages, tools: [weather] });
  expect(first.choices[0]!.finish_reason).toBe('tool_calls');
  const calls = first.choices[0]!.message.tool_calls as Call[];
  return {
    processId: (first as any).process_id,
    sessionId: (first as any).session_id,
    withResults: (answer) => [...messages, first.choices[0]!.message, ...calls.map((c): Msg => ({ role: 'tool', tool_call_id: c.id, content: answer }))],
  };
}

const status = async (g: TestGateway, id: string) => (await fetchJson(`${g.url}/v1/processes/${id}`)).body;
const poolStats = (g: TestGateway) => g.app.gateway.stats().pool!;

/** Late results for a run that is gone: a fresh run answers from the whole conversation. */
async function expectFallbackAnswer(g: TestGateway, parked: Parked, marker: string): Promise<void> {
  mock.on(marker, { text: `answered ${marker}` });
  const late = await g.openai.chat.completions.create({ model: 'sonnet', tools: [weather], messages: parked.withResults(marker) });
  expect(late.choices[0]!.message.content).toBe(`answered ${marker}`);
  expect(mock.messageRequests().at(-1)!.lastUserText).toContain('<conversation_history>');
  expect((late as any).session_id).not.toBe(parked.sessionId);
}

describe('parked runs whose process goes away', () => {
  it('fail at once with cli_exited when their CLI dies, and their late results still get an answer', async () => {
    const g = await startGateway({ mock, env: { TOOL_WAIT_TTL_MS: '60000' } });
    try {
      const parked = await park(g, 'Quito');
      const events = await openEvents(g.url, { process_id: parked.processId, types: 'PROCESS_COMPLETE' });
      const pids = processesMatching(parked.sessionId); // the CLI: its argv names the session
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      const ev = await events.next(() => true, 1_000);
      await events.close();
      expect(ev).toMatchObject({ type: 'PROCESS_COMPLETE', status: 'failed', error: { code: 'cli_exited' } });
      expect(await status(g, parked.processId)).toMatchObject({ status: 'failed', error: { code: 'cli_exited' } });
      await expectFallbackAnswer(g, parked, 'QUITO-MILD');
    } finally {
      await g.close();
    }
  });

  it('are at most MAX_PARKED_RUNS: the one waiting longest is evicted (tool_wait_evicted) and its process ends', async () => {
    const g = await startGateway({ mock, env: { MAX_PARKED_RUNS: '2' } });
    try {
      const lima = await park(g, 'Lima');
      const oslo = await park(g, 'Oslo');
      const rome = await park(g, 'Rome');
      expect(await waitForStatus(g.url, lima.processId, ['failed'], 2_000)).toMatchObject({ error: { code: 'tool_wait_evicted' } });
      expect(poolStats(g).waiting).toBe(2);
      await waitFor(() => processesMatching(lima.sessionId).length === 0, { what: "the evicted run's CLI to exit" });
      // Interrupted before it went: the CLI did not go on to the model without the results.
      expect(mock.messageRequests().filter((r) => r.headers['x-claude-code-session-id'] === lima.sessionId)).toHaveLength(1);
      for (const p of [oslo, rome]) expect((await status(g, p.processId)).status).toBe('requires_action');

      await expectFallbackAnswer(g, lima, 'LIMA-FOG');
      // The others still continue in place: one more upstream request, in the same session.
      mock.on('OSLO-SNOW', { text: 'Snow in Oslo.' });
      const before = mock.messageRequests().length;
      const next = await g.openai.chat.completions.create({ model: 'sonnet', tools: [weather], messages: oslo.withResults('OSLO-SNOW') });
      expect(next.choices[0]!.message.content).toBe('Snow in Oslo.');
      expect((next as any).session_id).toBe(oslo.sessionId);
      expect(mock.messageRequests().length).toBe(before + 1);
    } finally {
      await g.close();
    }
  });

  it('count against POOL_MAX_PROCESSES: a run that needs a process evicts the one waiting longest', async () => {
    const g = await startGateway({ mock, env: { POOL_SIZE: '0', POOL_MAX_PROCESSES: '2' } });
    try {
      const kyiv = await park(g, 'Kyiv');
      await park(g, 'Riga');
      await park(g, 'Bern');
      expect(await waitForStatus(g.url, kyiv.processId, ['failed'], 2_000)).toMatchObject({ error: { code: 'tool_wait_evicted' } });
      await waitFor(() => poolStats(g).total <= 2, { what: 'the pool back within POOL_MAX_PROCESSES' });
      expect(poolStats(g).waiting).toBe(2);
      await expectFallbackAnswer(g, kyiv, 'KYIV-RAIN');
    } finally {
      await g.close();
    }
  });
});
