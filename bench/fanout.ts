// Event fan-out: BENCH_SUBSCRIBERS WebSocket subscribers on `/v1/events?types=PROCESS_COMPLETE`, then
// BENCH_COMPLETIONS background completions (instant fake CLI), one after another: each is fired once
// every subscriber has the previous one's PROCESS_COMPLETE.
//
// Delay of one delivery = the subscriber's receive time − the event's `ts` (the moment the gateway
// published it, Date.now()/1000). The gateway runs as its own process, so that the subscribers (all
// in this process) do not share its event loop; both read the same system clock (CLOCK_REALTIME),
// at millisecond resolution, so each delay is exact to ±1 ms. The subscribers' own work (one event
// loop reading 1,000 sockets and parsing 1,000 JSON messages) is part of the figure.
//
//   npx tsx bench/fanout.ts   (BENCH_SUBSCRIBERS=1000, BENCH_COMPLETIONS=20; BENCH_POOL_SIZE and
//                              BENCH_GW_<NAME>=v as in capacity.ts)
import { rmSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import {
  FAKE_CLAUDE_BIN,
  type GatewayProcess,
  benchDirs,
  cpuSeconds,
  envInt,
  fmt,
  describeEnv,
  gatewayCommand,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  mb,
  median,
  percentile,
  postJson,
  rssKb,
  sampleRss,
  sleep,
  startGatewayProcess,
} from './lib.js';

const SUBSCRIBERS = envInt('BENCH_SUBSCRIBERS', 1000);
const COMPLETIONS = envInt('BENCH_COMPLETIONS', 20);
const EXTRA_ENV = gatewayEnvFromBench();
const CONNECT_PARALLEL = 50;
const TIMEOUT_MS = 30_000;
const BODY = { model: 'sonnet', background: true, messages: [{ role: 'user', content: 'hi' }] };

interface Delivery {
  delays: number[];
  bytes: number;
  wrong: number;
  done?: () => void;
}

async function main(): Promise<void> {
  const machine = machineLine();
  const dirs = benchDirs('bench-fanout-');
  const env = {
    HOME: dirs.home,
    DATA_DIR: path.join(dirs.dir, 'data'),
    CLAUDE_WORKDIR: dirs.workspace,
    CLAUDE_BIN: FAKE_CLAUDE_BIN,
    KILL_GRACE_MS: '500',
    SHUTDOWN_GRACE_MS: '1000',
    ...EXTRA_ENV,
  };
  const deliveries = new Map<string, Delivery>();
  const entry = (id: string): Delivery => {
    let d = deliveries.get(id);
    if (!d) deliveries.set(id, (d = { delays: [], bytes: 0, wrong: 0 }));
    return d;
  };
  const sockets: WebSocket[] = [];
  let closedEarly = 0;
  let gw: GatewayProcess | undefined;
  const t0 = performance.now();
  let idleKb = 0;
  let subscribedKb = 0;
  let peakKb = 0;
  let connectS = 0;
  let benchCpuMs = 0;
  let gwCpuMs = 0;
  const perCompletion: { all: number; first: number }[] = [];

  /** Fires one background completion; resolves once all subscribers have its PROCESS_COMPLETE. */
  const fire = async (): Promise<Delivery> => {
    const r = await postJson(`${gw!.url}/v1/chat/completions`, BODY);
    if (r.status !== 202 || typeof r.body?.id !== 'string') throw new Error(`background completion answered ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
    const d = entry(r.body.id as string);
    if (d.delays.length < SUBSCRIBERS) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`after ${TIMEOUT_MS} ms only ${d.delays.length} of ${SUBSCRIBERS} subscribers had ${r.body.id}`)),
          TIMEOUT_MS,
        );
        d.done = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (d.wrong) throw new Error(`${d.wrong} subscribers got ${r.body.id} with a status other than completed`);
    return d;
  };

  try {
    gw = await startGatewayProcess(env);
    const warm = await postJson(`${gw.url}/v1/chat/completions`, { ...BODY, background: false });
    if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${JSON.stringify(warm.body).slice(0, 500)}`);
    await sleep(500);
    idleKb = rssKb(gw.pid);

    const wsUrl = `${gw.url.replace(/^http/, 'ws')}/v1/events?types=PROCESS_COMPLETE`;
    const connect = () =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
        sockets.push(ws);
        ws.on('message', (data: Buffer) => {
          const at = Date.now(); // before parsing: the parse of the others is not this one's delay
          const e = JSON.parse(data.toString('utf8')) as { type: string; ts: number; process_id: string; status: string };
          if (e.type !== 'PROCESS_COMPLETE') return;
          const d = entry(e.process_id);
          d.delays.push(at - e.ts * 1000);
          d.bytes = data.length;
          if (e.status !== 'completed') d.wrong++;
          if (d.delays.length === SUBSCRIBERS) d.done?.();
        });
        ws.once('open', () => resolve());
        ws.on('error', reject); // after open: counted by 'close' below
        ws.once('close', () => closedEarly++);
      });
    const c0 = performance.now();
    for (let i = 0; i < SUBSCRIBERS; i += CONNECT_PARALLEL) {
      await Promise.all(Array.from({ length: Math.min(CONNECT_PARALLEL, SUBSCRIBERS - i) }, connect));
    }
    connectS = (performance.now() - c0) / 1000;
    await sleep(1000);
    subscribedKb = rssKb(gw.pid);

    await fire(); // warm-up with subscribers: not counted
    deliveries.clear();
    const sampler = sampleRss(gw.pid);
    const cpu0 = process.cpuUsage();
    const gwCpu0 = cpuSeconds(gw.pid).self;
    for (let i = 0; i < COMPLETIONS; i++) {
      const d = await fire();
      perCompletion.push({ all: Math.max(...d.delays), first: Math.min(...d.delays) });
    }
    const cpu = process.cpuUsage(cpu0);
    benchCpuMs = (cpu.user + cpu.system) / 1000 / COMPLETIONS;
    gwCpuMs = ((cpuSeconds(gw.pid).self - gwCpu0) * 1000) / COMPLETIONS;
    peakKb = sampler.stop().root;
    if (closedEarly) throw new Error(`${closedEarly} subscribers were disconnected during the run`);
  } catch (err) {
    if (gw) console.error(`gateway output (tail):\n${gw.output().slice(-3000)}`);
    throw err;
  } finally {
    for (const ws of sockets) ws.terminate();
    await gw?.stop();
    rmSync(dirs.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  const all = [...deliveries.values()].flatMap((d) => d.delays);
  const lasts = perCompletion.map((c) => c.all);
  const firsts = perCompletion.map((c) => c.first);
  const bytes = [...deliveries.values()][0]?.bytes ?? 0;
  console.log('## fanout: one PROCESS_COMPLETE to many WebSocket subscribers\n');
  console.log(`workload: ${SUBSCRIBERS} subscribers on /v1/events?types=PROCESS_COMPLETE (ws, no compression, all in this process),`);
  console.log(`  ${COMPLETIONS} background completions one after another (after 1 warm-up), each ${bytes} bytes on the wire per subscriber;`);
  console.log(`  delay = receive time − event ts (same clock, 1 ms resolution); gateway: own process (${gatewayCommand()}),`);
  console.log(`  LOG_LEVEL=warn, settings from the bench's env: ${describeEnv(EXTRA_ENV)}, CLI = test/support/fake-claude.mjs;
  ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(
      ['delay (ms)', 'samples', 'p50', 'p99', 'max'],
      [
        ['one delivery (subscriber × completion)', all.length, fmt(median(all)), fmt(percentile(all, 99)), fmt(Math.max(...all))],
        ['first subscriber, per completion', firsts.length, fmt(median(firsts)), fmt(percentile(firsts, 99)), fmt(Math.max(...firsts))],
        [`all ${SUBSCRIBERS} subscribers, per completion`, lasts.length, fmt(median(lasts)), fmt(percentile(lasts, 99)), fmt(Math.max(...lasts))],
      ],
    ),
  );
  console.log(
    `\ngateway RSS: ${mb(idleKb)} MB idle, ${mb(subscribedKb)} MB with ${SUBSCRIBERS} subscribers ` +
      `(${fmt((subscribedKb - idleKb) / SUBSCRIBERS)} KB each), peak ${mb(peakKb)} MB while fanning out; ` +
      `${SUBSCRIBERS} subscribers connected in ${connectS.toFixed(2)} s`,
  );
  console.log(
    `CPU per completion: gateway ${fmt(gwCpuMs)} ms (its whole work: the completion, the CLI spawn and ${SUBSCRIBERS} sends), ` +
      `subscribers (this process) ${fmt(benchCpuMs)} ms`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
