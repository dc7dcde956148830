// Latency of an OpenAI function-calling round trip through the gateway, with the real CLI and the
// project's instant mock upstream: the request that ends in `tool_calls`, then the request carrying
// the tool result that continues the same waiting run to the final answer.
//   npx tsx bench/tool-roundtrip.ts          (BENCH_N=10)
import { startGateway } from '../test/support/gateway.js';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import { envInt, fmt, machineLine, markdownTable, median, percentile, postJson } from './lib.js';

const N = envInt('BENCH_N', 10);
const tool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

const mock = await startMockAnthropic();
const gw = await startGateway({ mock });
try {
  mock.on('weather #', { kind: 'tool_use', name: 'mcp__client__get_weather', input: { location: 'Paris' } });
  mock.on('RESULT', { text: 'Sunny.' });
  const url = `${gw.url}/v1/chat/completions`;
  const out: number[] = [];
  const back: number[] = [];
  const total: number[] = [];
  for (let i = -1; i < N; i++) {
    await new Promise((r) => setTimeout(r, 1_500)); // the pool is warm again for each sample
    const messages: unknown[] = [{ role: 'user', content: `weather #${i}` }];
    const t0 = performance.now();
    const first = await postJson(url, { model: 'sonnet', messages, tools: [tool] });
    const t1 = performance.now();
    const message = first.body.choices[0].message;
    if (first.status !== 200 || !message.tool_calls) throw new Error(`no tool_calls: ${JSON.stringify(first.body)}`);
    const second = await postJson(url, {
      model: 'sonnet',
      tools: [tool],
      messages: [...messages, message, { role: 'tool', tool_call_id: message.tool_calls[0].id, content: 'RESULT' }],
    });
    const t2 = performance.now();
    if (second.status !== 200 || second.body.choices[0].message.content !== 'Sunny.') throw new Error(`bad final: ${JSON.stringify(second.body)}`);
    if (i < 0) continue; // warm-up
    out.push(t1 - t0);
    back.push(t2 - t1);
    total.push(t2 - t0);
  }
  console.log(`# Tool round trip (real CLI, instant mock upstream, pool on; ${machineLine()})`);
  console.log(`workload: ${N} round trips after one warm-up; each: request → tool_calls, then tool result → final answer\n`);
  const row = (name: string, xs: number[]) => [name, fmt(median(xs)), fmt(percentile(xs, 95)), fmt(Math.min(...xs)), fmt(Math.max(...xs))];
  console.log(
    markdownTable(
      ['phase', 'median ms', 'p95 ms', 'min ms', 'max ms'],
      [row('request → tool_calls', out), row('tool result → final answer', back), row('whole round trip', total)],
    ),
  );
} finally {
  await gw.close();
  await mock.close();
}
