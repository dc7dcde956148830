// Concurrency: batches of N simultaneous non-streaming completions through the gateway with the real
// CLI, MAX_CONCURRENCY processes at a time and the rest queued. Per batch: completed and failed,
// wall time, per-request latency (queueing included), throughput, and the peak memory of the gateway
// plus all its CLI processes (sum of VmRSS over the gateway's process tree, sampled every 100 ms).
//
// The gateway runs as its own process; the project's mock Anthropic upstream runs in this one and
// waits BENCH_UPSTREAM_DELAY_MS before answering each request (a model's time to first byte).
//
//   npx tsx bench/concurrency.ts   (BENCH_BATCHES=4,8,16,32 BENCH_MAX_CONCURRENCY=4
//                                   BENCH_UPSTREAM_DELAY_MS=200; BENCH_POOL_SIZE unset = gateway default;
//                                   BENCH_GW_<NAME>=v sets <NAME> for the gateway)
import { rmSync } from 'node:fs';
import path from 'node:path';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import {
  CLAUDE_BIN,
  type GatewayProcess,
  benchDirs,
  envInt,
  envIntList,
  fmt,
  describeEnv,
  gatewayCommand,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  mb,
  median,
  percentile,
  rssKb,
  sampleRss,
  sleep,
  startGatewayProcess,
} from './lib.js';

const BATCHES = envIntList('BENCH_BATCHES', [4, 8, 16, 32]);
const MAX_CONCURRENCY = envInt('BENCH_MAX_CONCURRENCY', 4);
const DELAY_MS = envInt('BENCH_UPSTREAM_DELAY_MS', 200, 0);
const EXTRA_ENV = gatewayEnvFromBench();
const PROMPT = 'Say hello.';
const REPLY = 'Hello from mock';

interface Batch {
  n: number;
  ok: number;
  failed: string[];
  wallS: number;
  latencies: number[];
  peakTreeKb: number;
  peakGatewayKb: number;
  peakProcs: number;
}

async function main(): Promise<void> {
  const machine = machineLine();
  const mock = await startMockAnthropic();
  mock.setDefault({ text: REPLY, firstByteDelayMs: DELAY_MS });
  const dirs = benchDirs('bench-concurrency-');
  const env: Record<string, string> = {
    HOME: dirs.home,
    DATA_DIR: path.join(dirs.dir, 'data'),
    CLAUDE_WORKDIR: dirs.workspace,
    ANTHROPIC_BASE_URL: mock.url,
    ANTHROPIC_API_KEY: 'sk-test',
    MAX_CONCURRENCY: String(MAX_CONCURRENCY),
    MAX_QUEUE: '10000',
    KILL_GRACE_MS: '500',
    SHUTDOWN_GRACE_MS: '1000',
    ...EXTRA_ENV,
  };
  let gw: GatewayProcess | undefined;
  const t0 = performance.now();
  const batches: Batch[] = [];
  let idleKb = 0;

  /** One completion; its latency, or why it failed. */
  const complete = async (): Promise<{ ms: number; error?: string }> => {
    const t = performance.now();
    try {
      const res = await fetch(`${gw!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: PROMPT }] }),
      });
      const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
      const ms = performance.now() - t;
      if (res.status !== 200 || body.choices?.[0]?.message?.content !== REPLY) return { ms, error: `${res.status} ${JSON.stringify(body).slice(0, 300)}` };
      return { ms };
    } catch (err) {
      return { ms: performance.now() - t, error: String(err) };
    }
  };

  try {
    gw = await startGatewayProcess(env);
    const warm = await complete(); // warm-up: page cache, the CLI's first config-dir writes
    if (warm.error) throw new Error(`warm-up failed: ${warm.error}`);
    await sleep(500);
    idleKb = rssKb(gw.pid);
    for (const n of BATCHES) {
      const sampler = sampleRss(gw.pid, { tree: true });
      const b0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, complete));
      const wallS = (performance.now() - b0) / 1000;
      const peak = sampler.stop();
      batches.push({
        n,
        ok: results.filter((r) => !r.error).length,
        failed: results.flatMap((r) => (r.error ? [r.error] : [])),
        wallS,
        latencies: results.map((r) => r.ms),
        peakTreeKb: peak.tree,
        peakGatewayKb: peak.root,
        peakProcs: peak.procs,
      });
      await sleep(300); // let the last CLI processes go before the next batch's first sample
    }
  } catch (err) {
    if (gw) console.error(`gateway output (tail):\n${gw.output().slice(-3000)}`);
    throw err;
  } finally {
    await gw?.stop();
    await mock.close();
    rmSync(dirs.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;
  const upstreamCalls = mock.messageRequests().length;
  const completions = 1 + batches.reduce((s, b) => s + b.n, 0);

  console.log('## concurrency: simultaneous real-CLI completions, queued beyond MAX_CONCURRENCY\n');
  console.log(`workload: batches of N simultaneous POST /v1/chat/completions {model:"sonnet", "${PROMPT}"}, one batch after another;`);
  console.log(`  gateway: own process (${gatewayCommand()}), LOG_LEVEL=warn, MAX_CONCURRENCY=${MAX_CONCURRENCY}, MAX_QUEUE=10000,`);
  console.log(`  settings from the bench's env: ${describeEnv(EXTRA_ENV)}; CLI ${CLAUDE_BIN}`);
  console.log(`  upstream: project mock, reply ${JSON.stringify(REPLY)} after ${DELAY_MS} ms (${upstreamCalls} upstream calls for ${completions} completions)`);
  console.log(`  latency = request to parsed body, queueing included; after 1 warm-up; ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(
      ['N', 'completed', 'failed', 'wall s', 'p50 ms', 'p99 ms', 'req/s', 'peak procs', 'peak RSS gw+CLIs MB', 'peak RSS gw MB'],
      batches.map((b) => [
        b.n,
        b.ok,
        b.failed.length,
        fmt(b.wallS, 2),
        fmt(median(b.latencies), 0),
        fmt(percentile(b.latencies, 99), 0),
        fmt(b.ok / b.wallS, 2),
        b.peakProcs,
        mb(b.peakTreeKb),
        mb(b.peakGatewayKb),
      ]),
    ),
  );
  console.log(`\ngateway RSS idle (after warm-up): ${mb(idleKb)} MB; peak procs = gateway + CLI processes at one sample`);
  const failed = batches.flatMap((b) => b.failed.map((f) => `N=${b.n}: ${f}`));
  if (failed.length) {
    console.error(`\n${failed.length} failed:\n${failed.slice(0, 10).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
