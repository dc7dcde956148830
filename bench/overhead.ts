// Gateway overhead on non-streaming completions: POST /v1/chat/completions through the gateway (A)
// vs the same real CLI spawned directly with the gateway's env and flags (B). Both talk to the
// project's mock Anthropic upstream on 127.0.0.1. Runs interleave A, B, A, B… after one warm-up
// of each, so that drift (page cache, CPU frequency, the CLI's growing config dir) hits both alike.
// The gateway runs without the process pool (POOL_SIZE=0): every completion is a one-shot `claude -p`,
// as the direct run is (bench/pool.ts measures the pool). It also reads `x-gateway-overhead-ms`.
//
//   npx tsx bench/overhead.ts          (BENCH_N=10 pairs by default)
import { rmSync } from 'node:fs';
import { startGateway } from '../test/support/gateway.js';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import { CLAUDE_BIN, benchDirs, cliArgs, cliEnv, envInt, fmt, machineLine, markdownTable, median, percentile, runCliExpecting } from './lib.js';

const N = envInt('BENCH_N', 10);
const PROMPT = 'Say hello.';
const REPLY = 'Hello from mock';

async function main(): Promise<void> {
  const machine = machineLine(); // before the load of the bench itself
  const mock = await startMockAnthropic();
  mock.setDefault({ text: REPLY });
  const gw = await startGateway({ mock, env: { POOL_SIZE: '0' } });
  const direct = benchDirs('bench-overhead-direct-');
  const env = cliEnv({ home: direct.home, configDir: direct.configDir, baseUrl: mock.url });

  const headers: number[] = []; // x-gateway-overhead-ms of the measured requests
  const viaGateway = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: PROMPT }] }),
    });
    const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
    const ms = performance.now() - t0;
    const content = body.choices?.[0]?.message?.content;
    if (res.status !== 200 || content !== REPLY) throw new Error(`gateway answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`);
    headers.push(Number(res.headers.get('x-gateway-overhead-ms')));
    return ms;
  };
  const viaCli = () => runCliExpecting(env, direct.workspace, PROMPT, REPLY);

  const a: number[] = [];
  const b: number[] = [];
  const t0 = performance.now();
  try {
    await viaGateway(); // warm-up: page cache, first config-dir writes, JIT of the gateway's code
    await viaCli();
    headers.length = 0;
    for (let i = 0; i < N; i++) {
      a.push(await viaGateway());
      b.push(await viaCli());
    }
  } finally {
    await gw.close();
    await mock.close();
    rmSync(direct.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  const row = (name: string, s: number[]) => [name, fmt(median(s)), fmt(percentile(s, 95)), fmt(Math.min(...s)), fmt(Math.max(...s))];
  const diffs = a.map((x, i) => x - b[i]!);
  console.log('## overhead: non-streaming completion, gateway vs direct CLI\n');
  console.log(`workload: ${N} interleaved pairs (A=gateway, B=direct) after 1 warm-up of each; sequential, one at a time;`);
  console.log(`  prompt ${JSON.stringify(PROMPT)}, mock reply ${JSON.stringify(REPLY)} (project mock, no delays);`);
  console.log(`  CLI ${CLAUDE_BIN} ${cliArgs('<uuid>').join(' ')} (prompt on stdin)`);
  console.log(`  gateway: in-process Fastify (startGateway), POOL_SIZE=0 (one-shot), plain fetch, client time from request to parsed body`);
  console.log(`  ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(['path (ms)', 'median', 'p95', 'min', 'max'], [row('gateway (A)', a), row('direct CLI (B)', b), row('A − B, per pair', diffs)]),
  );
  console.log(`\nratio gateway/direct (medians): ${(median(a) / median(b)).toFixed(3)} (target ≤ 1.02)`);
  console.log(
    `x-gateway-overhead-ms (time in the gateway outside the CLI): median ${fmt(median(headers), 2)}, p95 ${fmt(percentile(headers, 95), 2)}, max ${fmt(Math.max(...headers), 2)}`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
