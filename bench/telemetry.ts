// What traces cost: the same workload through two gateways, one with OpenTelemetry off (the default:
// not even loaded) and one exporting every span over OTLP/HTTP to a local sink, side by side.
//
// Processes: the project's mock Messages API and the OTLP sink (both in this process), two gateways
// (`node --import tsx src/main.ts`, the `anthropic/<model>` provider against the mock, POOL_SIZE=0).
// Workload: non-streamed `anthropic/claude-sonnet-4-5` completions, one connection, sequential,
// BENCH_SEQ_N (2000) per gateway in 4 interleaved rounds after a 300-request warm-up.
//
//   npx tsx bench/telemetry.ts
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import { type GatewayProcess, envInt, fmt, machineLine, markdownTable, percentile, startGatewayProcess } from './lib.js';

const N = envInt('BENCH_SEQ_N', 2000);
const ROUNDS = 4;
const BODY = JSON.stringify({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 });

async function timed(url: string, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    into.push(performance.now() - t0);
  }
}

async function main(): Promise<void> {
  const mock = await startMockAnthropic();
  let exported = 0;
  const sink = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exported++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const dirs: string[] = [];
  const gateways: GatewayProcess[] = [];
  try {
    const start = async (extra: Record<string, string>) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'bench-telemetry-'));
      dirs.push(dir);
      const gw = await startGatewayProcess({
        HOME: path.join(dir, 'home'),
        DATA_DIR: path.join(dir, 'data'),
        CLAUDE_WORKDIR: path.join(dir, 'workspace'),
        ANTHROPIC_API_KEY: 'test',
        ANTHROPIC_BASE_URL: mock.url,
        POOL_SIZE: '0',
        ...extra,
      });
      gateways.push(gw);
      return gw;
    };
    const off = await start({});
    const on = await start({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, OTEL_BSP_SCHEDULE_DELAY: '200' });
    const samples = { off: [] as number[], on: [] as number[] };
    await timed(off.url, 300, []);
    await timed(on.url, 300, []);
    for (let r = 0; r < ROUNDS; r++) {
      await timed(off.url, N / ROUNDS, samples.off);
      await timed(on.url, N / ROUNDS, samples.on);
    }
    const row = (name: string, s: number[]) => [name, s.length, fmt(percentile(s, 50), 3), fmt(percentile(s, 90), 3), fmt(percentile(s, 99), 3)];
    console.log('## telemetry: OpenTelemetry off vs on (every span exported over OTLP/HTTP to a local sink)\n');
    console.log(`workload: ${N} sequential non-streamed anthropic/claude-sonnet-4-5 completions per gateway (1 connection, ${ROUNDS} interleaved rounds, 300 warm-up each), against the project mock; ${machineLine()}\n`);
    console.log(markdownTable(['gateway', 'requests', 'p50 ms', 'p90 ms', 'p99 ms'], [row('OTel off (default)', samples.off), row('OTel on (OTLP/HTTP export)', samples.on)]));
    console.log(`\ntraces on adds ${fmt(percentile(samples.on, 50) - percentile(samples.off, 50), 3)} ms at p50; the sink got ${exported} export requests`);
  } finally {
    for (const gw of gateways) await gw.stop();
    await mock.close();
    await new Promise((r) => sink.close(r));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
