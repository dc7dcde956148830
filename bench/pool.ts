// The process pool against the one-shot path, side by side in one run: a direct `claude -p` (the
// reference), fresh completions through a gateway without the pool (POOL_SIZE=0) and with it (a warm
// pre-started process), and a session's next turn on its hot process vs a cold `--resume` spawn.
// Real CLI, the project's mock Anthropic upstream (instant text), one round of warm-ups, then
// BENCH_N rounds, each taking one sample of every row in turn.
//
//   npx tsx bench/pool.ts          (BENCH_N=10 rounds, BENCH_POOL_SIZE=1, BENCH_POOL_SETTLE_MS=3000)
import { rmSync } from 'node:fs';
import { type TestGateway, startGateway } from '../test/support/gateway.js';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import {
  CLAUDE_BIN,
  benchDirs,
  cliArgs,
  cliEnv,
  describeEnv,
  envInt,
  fmt,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  median,
  percentile,
  quiet,
  runCliExpecting,
  sleep,
} from './lib.js';

const N = envInt('BENCH_N', 10);
const POOL_SIZE = envInt('BENCH_POOL_SIZE', 1);
/**
 * Time from a refill's spawn to the next pooled sample. The CLI's start-up comes in bursts until about
 * 2.3 s after its spawn (here: ~0.26 s of CPU in the first 0.3 s, more at ~1.0–1.4 s and ~1.9–2.3 s,
 * ~0.41 s in all), with idle gaps between them; a first message inside that window takes ~170 ms
 * instead of ~110 ms. So the bench waits this long after the spawn, and then for quiet().
 */
const SETTLE_MS = envInt('BENCH_POOL_SETTLE_MS', 3000, 0);
const PROMPT = 'Say hello.';
const REPLY = 'Hello from mock';
const TARGETS: Record<string, number> = { fresh: 0.4, hot: 0.15 };

interface Sample {
  ms: number;
  /** x-gateway-overhead-ms */
  overhead: number;
  sessionId: string;
}

async function main(): Promise<void> {
  const machine = machineLine(); // before the load of the bench itself
  const mock = await startMockAnthropic();
  mock.setDefault({ text: REPLY });
  // Every pooled fresh completion leaves a hot session behind (hot for POOL_HOT_TTL_MS). Room for all
  // of them, so that they do not crowd the warm process out: the pool's refill never evicts a hot one.
  const poolEnv = {
    POOL_SIZE: String(POOL_SIZE),
    POOL_MAX_PROCESSES: String(N + POOL_SIZE + 4),
    POOL_HOT_TTL_MS: '900000',
    ...gatewayEnvFromBench(),
  };
  const gw0 = await startGateway({ mock, env: { POOL_SIZE: '0' } });
  const gwP = await startGateway({ mock, env: poolEnv });
  const direct = benchDirs('bench-pool-direct-');
  const env = cliEnv({ home: direct.home, configDir: direct.configDir, baseUrl: mock.url });

  const complete = async (gw: TestGateway, sessionId?: string): Promise<Sample> => {
    const t0 = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: PROMPT }], ...(sessionId ? { session_id: sessionId } : {}) }),
    });
    const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
    const ms = performance.now() - t0;
    const content = body.choices?.[0]?.message?.content;
    const sid = res.headers.get('x-session-id') ?? '';
    if (res.status !== 200 || content !== REPLY || (sessionId && sid !== sessionId)) {
      throw new Error(`gateway answered ${res.status} (session ${sid}): ${JSON.stringify(body).slice(0, 500)}`);
    }
    return { ms, overhead: Number(res.headers.get('x-gateway-overhead-ms')), sessionId: sid };
  };
  const viaCli = async (): Promise<Sample> => {
    const ms = await runCliExpecting(env, direct.workspace, PROMPT, REPLY);
    return { ms, overhead: Number.NaN, sessionId: '' };
  };
  const warmNow = () => gwP.app.gateway.stats().pool?.warm ?? 0;

  const rows = {
    direct: [] as Sample[],
    fresh0: [] as Sample[],
    freshP: [] as Sample[],
    hotP: [] as Sample[],
    resume0: [] as Sample[],
  };
  let warmAtFresh = 0;
  const settles: number[] = [];
  let refillAt = performance.now(); // the gateway started its warm processes just now
  const settle = async () => {
    await sleep(Math.max(0, SETTLE_MS - (performance.now() - refillAt)));
    await quiet();
  };
  const t0 = performance.now();
  try {
    for (let round = -1; round < N; round++) {
      const keep = round >= 0; // round -1 is the warm-up
      const push = (row: Sample[], s: Sample) => keep && row.push(s);
      await quiet();
      push(rows.direct, await viaCli());
      await quiet();
      const a = await complete(gw0);
      push(rows.fresh0, a);
      await quiet(); // a's CLI exits
      push(rows.resume0, await complete(gw0, a.sessionId));
      // Pooled fresh: only once the process the previous one's refill spawned has done its whole
      // start-up, so that the warm path is what is measured.
      const s1 = performance.now();
      await settle();
      if (keep) settles.push(performance.now() - s1);
      if (keep && warmNow() > 0) warmAtFresh++;
      const b = await complete(gwP);
      refillAt = performance.now(); // taking the warm process started a new one
      push(rows.freshP, b);
      // b's process is now hot for session b; the refill it triggered finishes first.
      await settle();
      push(rows.hotP, await complete(gwP, b.sessionId));
    }
  } finally {
    await gwP.close();
    await gw0.close();
    await mock.close();
    rmSync(direct.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  const ref = median(rows.direct.map((s) => s.ms));
  const row = (name: string, samples: Sample[], target?: number) => {
    const ms = samples.map((s) => s.ms);
    const ratio = median(ms) / ref;
    const verdict = target === undefined ? '' : ` (≤ ${target}: ${ratio <= target ? 'met' : 'missed'})`;
    return [
      name,
      fmt(median(ms)),
      fmt(percentile(ms, 95)),
      fmt(Math.min(...ms)),
      fmt(Math.max(...ms)),
      `${ratio.toFixed(3)}${verdict}`,
      fmt(median(samples.map((s) => s.overhead)), 2),
    ];
  };
  console.log('## pool: warm process and hot sessions vs one-shot `claude -p`\n');
  console.log(`workload: ${N} rounds after 1 warm-up round; in each round, one at a time and in this order: direct,`);
  console.log(`  gateway without pool fresh (session A), its next turn on A, gateway with pool fresh (session B),`);
  console.log(`  its next turn on B. Before every sample the bench waits until no CLI process under it uses CPU`);
  console.log(`  (200 ms window); before each pooled sample it first waits until ${SETTLE_MS} ms have passed since`);
  console.log(`  the last refill spawn (a pooled fresh completion starts a new CLI: ~0.4 s of CPU, in bursts`);
  console.log(`  over ~2.3 s), so that the warm path, without that start-up beside it, is what is measured`);
  console.log(`  (waits before pooled fresh: median ${fmt(median(settles), 0)} ms; a warm process was there ${warmAtFresh}/${N} times).`);
  console.log(`  prompt ${JSON.stringify(PROMPT)}, mock reply ${JSON.stringify(REPLY)} (project mock, no delays); CLI ${CLAUDE_BIN}`);
  console.log(`  direct: ${cliArgs('<uuid>').join(' ')} (prompt on stdin), spawn → exit`);
  console.log(`  gateways: in-process Fastify (startGateway), plain fetch, client time from request to parsed body;`);
  console.log(`  without pool POOL_SIZE=0; with pool ${describeEnv(poolEnv)}`);
  console.log(`  ${machine}; total ${total.toFixed(1)} s\n`);
  if (warmAtFresh < N) {
    console.log(`WARNING: ${N - warmAtFresh} of ${N} pooled fresh completions found no warm process (POOL_MAX_PROCESSES full of hot`);
    console.log(`  sessions? the pool's refill does not evict them), so that row mixes in cold spawns.\n`);
  }
  console.log(
    markdownTable(
      ['path (ms)', 'median', 'p95', 'min', 'max', '× direct (median)', 'x-gateway-overhead-ms (median)'],
      [
        row('direct one-shot `claude -p`', rows.direct),
        row('gateway, POOL_SIZE=0: fresh', rows.fresh0),
        row(`gateway, POOL_SIZE=${POOL_SIZE}: fresh (warm process)`, rows.freshP, TARGETS.fresh),
        row(`gateway, POOL_SIZE=${POOL_SIZE}: next turn (hot process)`, rows.hotP, TARGETS.hot),
        row('gateway, POOL_SIZE=0: next turn (cold --resume)', rows.resume0),
      ],
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
