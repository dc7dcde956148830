// Gateway capacity: requests/s and latency under load, with the project's instant fake CLI
// (test/support/fake-claude.mjs) so that no model or upstream is involved. The gateway runs as its
// own process (`node --import tsx src/main.ts`), so autocannon, in this process, does not share its
// event loop; its memory is read from /proc/<pid>/status (VmRSS), sampled every 100 ms.
//
// Rows:
//   (a) fresh completions: every request is a new conversation
//   (b) hot-session turns: K sessions are made first (one request each), then every request continues
//       one of them (connection i always uses session i % K; with K ≥ connections a session never has
//       two turns in flight)
// Without the process pool every completion spawns a CLI process (a `--resume` one for (b)), so both
// rows are bound by process start-up; with POOL_SIZE > 0 and hot sessions, (b) needs no spawn.
//
//   npx tsx bench/capacity.ts   (BENCH_CONNECTIONS=50, BENCH_DURATION_S=10, BENCH_MAX_CONCURRENCY=8,
//                                BENCH_SESSIONS=BENCH_CONNECTIONS; BENCH_POOL_SIZE unset = the gateway's
//                                default, 0 disables the pool; BENCH_GW_<NAME>=v sets <NAME> for the gateway)
import { rmSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import {
  FAKE_CLAUDE_BIN,
  type GatewayProcess,
  benchDirs,
  cpuProfileTop,
  envInt,
  fmt,
  describeEnv,
  gatewayCommand,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  mb,
  postJson,
  rssKb,
  sampleRss,
  sleep,
  startGatewayProcess,
  treeCpuSeconds,
} from './lib.js';

const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50);
const DURATION_S = envInt('BENCH_DURATION_S', 10);
const MAX_CONCURRENCY = envInt('BENCH_MAX_CONCURRENCY', 8);
const EXTRA_ENV = gatewayEnvFromBench();
const SESSIONS = envInt('BENCH_SESSIONS', CONNECTIONS);
const MESSAGES = [{ role: 'user', content: 'hi' }];
const FRESH_BODY = JSON.stringify({ model: 'sonnet', messages: MESSAGES });

interface Row {
  name: string;
  result: autocannon.Result;
  wallS: number;
  peakRssKb: number;
  peakTreeKb: number;
  peakProcs: number;
  cpuSelf: number;
  cpuCli: number;
  /** this process: autocannon */
  cpuBench: number;
}

async function load(gw: GatewayProcess, name: string, setupClient?: (c: autocannon.Client) => void): Promise<Row> {
  const sampler = sampleRss(gw.pid, { tree: true });
  const cpu0 = treeCpuSeconds(gw.pid);
  const bench0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: `${gw.url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: FRESH_BODY,
    connections: CONNECTIONS,
    duration: DURATION_S,
    timeout: 60,
    ...(setupClient ? { setupClient } : {}),
  });
  const wallS = (performance.now() - t0) / 1000;
  const cpu1 = treeCpuSeconds(gw.pid);
  const bench1 = process.cpuUsage(bench0);
  const peak = sampler.stop();
  return {
    name,
    result,
    wallS,
    peakRssKb: peak.root,
    peakTreeKb: peak.tree,
    peakProcs: peak.procs,
    cpuSelf: cpu1.self - cpu0.self,
    cpuCli: cpu1.descendants - cpu0.descendants,
    cpuBench: (bench1.user + bench1.system) / 1e6,
  };
}

async function main(): Promise<void> {
  const machine = machineLine();
  const dirs = benchDirs('bench-capacity-');
  const env: Record<string, string> = {
    HOME: dirs.home,
    DATA_DIR: path.join(dirs.dir, 'data'),
    CLAUDE_WORKDIR: dirs.workspace,
    CLAUDE_BIN: FAKE_CLAUDE_BIN,
    MAX_CONCURRENCY: String(MAX_CONCURRENCY),
    MAX_QUEUE: '10000',
    KILL_GRACE_MS: '500',
    SHUTDOWN_GRACE_MS: '1000',
    // Room for every session's process to stay hot (row b), plus the warm ones.
    POOL_MAX_PROCESSES: String(SESSIONS + 8),
    ...EXTRA_ENV,
  };
  const t0 = performance.now();
  let gw: GatewayProcess | undefined;
  const rows: Row[] = [];
  let idleKb = 0;
  let warmKb = 0;
  let afterKb = 0;
  try {
    gw = await startGatewayProcess(env);
    await sleep(1000);
    idleKb = rssKb(gw.pid);
    // Warm-up: JIT, first files in DATA_DIR; not measured.
    const warm = await Promise.all(Array.from({ length: 2 * MAX_CONCURRENCY }, () => postJson(`${gw!.url}/v1/chat/completions`, JSON.parse(FRESH_BODY))));
    const bad = warm.find((r) => r.status !== 200 || typeof r.body?.choices?.[0]?.message?.content !== 'string');
    if (bad) throw new Error(`warm-up answered ${bad.status}: ${JSON.stringify(bad.body).slice(0, 500)}`);
    await sleep(500);
    warmKb = rssKb(gw.pid);

    rows.push(await load(gw, '(a) fresh completions'));

    // (b): K sessions, one request each, then every request continues one of them.
    const made = await Promise.all(Array.from({ length: SESSIONS }, () => postJson(`${gw!.url}/v1/chat/completions`, JSON.parse(FRESH_BODY))));
    const sessions = made.map((r) => {
      if (r.status !== 200 || typeof r.body?.session_id !== 'string') throw new Error(`session set-up answered ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
      return r.body.session_id as string;
    });
    let next = 0;
    rows.push(
      await load(gw, '(b) hot-session turns', (client) => {
        const session_id = sessions[next++ % SESSIONS];
        client.setBody(JSON.stringify({ model: 'sonnet', session_id, messages: MESSAGES }));
      }),
    );
    await sleep(1000);
    afterKb = rssKb(gw.pid);
  } catch (err) {
    if (gw) console.error(`gateway output (tail):\n${gw.output().slice(-3000)}`);
    throw err;
  } finally {
    await gw?.stop();
    rmSync(dirs.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  console.log('## capacity: the gateway under load, instant fake CLI\n');
  console.log(`workload: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per row, POST /v1/chat/completions`);
  console.log(`  ${FRESH_BODY} (row b adds session_id: connection i → session i % ${SESSIONS}, made beforehand)`);
  console.log(`  gateway: own process (${gatewayCommand()}), LOG_LEVEL=warn, MAX_CONCURRENCY=${MAX_CONCURRENCY}, MAX_QUEUE=10000,`);
  console.log(`  settings from the bench's env: ${describeEnv(EXTRA_ENV)}; CLI = test/support/fake-claude.mjs (a Node script, no upstream)`);
  console.log(`  after ${2 * MAX_CONCURRENCY} warm-up requests; ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(
      ['row', 'requests', 'non-2xx', 'errors', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'peak RSS gw MB', 'peak RSS gw+CLIs MB', 'CPU s: gw', 'CLIs', 'bench'],
      rows.map((r) => [
        r.name,
        r.result['2xx'] + r.result.non2xx,
        r.result.non2xx,
        r.result.errors,
        fmt(r.result['2xx'] / r.result.duration),
        fmt(r.result.latency.p50),
        fmt(r.result.latency.p99),
        fmt(r.result.latency.max),
        mb(r.peakRssKb),
        mb(r.peakTreeKb),
        fmt(r.cpuSelf),
        fmt(r.cpuCli),
        fmt(r.cpuBench),
      ]),
    ),
  );
  console.log(`\ngateway RSS idle: ${mb(idleKb)} MB after start-up, ${mb(warmKb)} MB after warm-up, ${mb(afterKb)} MB 1 s after the load`);
  console.log('CPU s over each row: the gateway process itself, all its CLI processes, this process (autocannon);');
  console.log(`peak processes in the gateway's tree: ${rows.map((r) => `${r.name.slice(0, 3)} ${r.peakProcs}`).join(', ')}`);
  if (process.env.BENCH_CPU_PROF) {
    const prof = cpuProfileTop(process.env.BENCH_CPU_PROF);
    if (prof) console.log(`\ngateway CPU profile, whole run (${fmt(prof.busyMs / 1000)} s busy), top self time: ${prof.file}\n\n${prof.table}`);
  }
  const failures = rows.filter((r) => r.result.non2xx > 0 || r.result.errors > 0);
  for (const r of failures) console.error(`${r.name}: status codes ${JSON.stringify(r.result.statusCodeStats)}, ${r.result.errors} errors`);
  if (failures.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
