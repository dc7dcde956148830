// The API path's own cost: `anthropic/<model>` through the gateway (its Messages API provider, no CLI)
// against the same mock Messages API called directly, and against the Portkey gateway
// (@portkey-ai/gateway, a devDependency) in front of the same mock, in one run, with one workload.
//
// Processes: the mock (test/support/mock-anthropic.ts, instant fixed text, this file forked with
// --serve-mock), our gateway (`node --import tsx src/main.ts`, see lib.ts gatewayArgv), Portkey
// (`node node_modules/@portkey-ai/gateway/build/start-server.js --port=<free> --headless`, held on
// 127.0.0.1), and this process, which drives the load with autocannon. Every row must reach the mock:
// its request count is checked against the 2xx answers of each row.
//
// Rows: (1) the mock directly, POST /v1/messages non-streamed = the baseline; (1b) the mock directly,
// stream:true (what our gateway asks the upstream for: it always streams); (2) our gateway; (3) Portkey.
// Phases: a check of each answer, a warm-up, then low load (1 connection, sequential, BENCH_SEQ_N
// requests per row, in interleaved rounds), then load (BENCH_CONNECTIONS connections, BENCH_SECONDS
// seconds per row). Latencies are autocannon's per-response hrtime figures (not its 1 ms histogram).
//
//   npx tsx bench/api-path.ts    (BENCH_SECONDS=10, BENCH_CONNECTIONS=50, BENCH_SEQ_N=2000,
//                                 BENCH_PORTKEY=0 skips Portkey, BENCH_GW_<NAME>=v sets <NAME> for our
//                                 gateway, BENCH_CPU_PROF=<dir> profiles it and prints its top functions,
//                                 BENCH_MOCK_KEEPALIVE_MS=10000 the mock server's keep-alive)
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import {
  type GatewayProcess,
  ROOT,
  benchDirs,
  cpuProfileTop,
  cpuSeconds,
  describeEnv,
  envInt,
  fmt,
  freePort,
  gatewayCommand,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  mb,
  percentile,
  sampleRss,
  outputTail,
  sleep,
  startGatewayProcess,
} from './lib.js';

const REPLY = 'Hello from mock';
const MODEL = 'claude-sonnet-4-5';
const CHAT_BODY = { model: `anthropic/${MODEL}`, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 };
const PORTKEY_BODY = { ...CHAT_BODY, model: MODEL };
const MESSAGES_BODY = { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] };
const TARGET_ADDED_P50_MS = 0.3;
const TARGET_RATIO = 3;

// ---------------------------------------------------------------------------------------------
// Mock mode: `api-path.ts --serve-mock`, forked by the bench. Answers over IPC with its URL, and with
// its count of POST /v1/messages on {type:'count'}. The mock records every request; the recorded list
// is emptied every 200 ms (after counting) so that a long run does not grow its memory.

async function serveMock(): Promise<void> {
  // The mock's server keeps an idle connection 1 s and says so (`Keep-Alive: timeout=1`); undici (our
  // gateway's client, and Node's fetch in Portkey) closes a connection after every answer when that is
  // under its 2 s threshold, so each request would pay a TCP connect and close. A real API keeps
  // connections far longer: this process (the mock's only) sets its server's keep-alive before it listens.
  const keepAliveMs = envInt('BENCH_MOCK_KEEPALIVE_MS', 10_000);
  let connections = 0;
  const listen = http.Server.prototype.listen;
  http.Server.prototype.listen = function (this: http.Server, ...args: unknown[]) {
    this.keepAliveTimeout = keepAliveMs;
    this.on('connection', () => connections++);
    return (listen as (...a: unknown[]) => http.Server).apply(this, args);
  } as typeof listen;
  const mock = await startMockAnthropic();
  mock.setDefault({ text: REPLY });
  let count = 0;
  const drain = () => {
    for (const r of mock.requests) if (r.method === 'POST' && r.path.split('?')[0] === '/v1/messages') count++;
    mock.requests.length = 0;
  };
  const timer = setInterval(drain, 200);
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'count') {
      drain();
      process.send!({ type: 'count', count, connections });
    } else if (m?.type === 'close') {
      clearInterval(timer);
      void mock.close().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0)); // the bench went away
  process.send!({ type: 'ready', url: mock.url });
}

// ---------------------------------------------------------------------------------------------
// Children, stopped on every way out.

const children = new Set<ChildProcess>();
/** SIGKILL to every child's process group (they run detached, each its own group) and the child. */
function killAll(): void {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) continue;
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      c.kill('SIGKILL');
    }
  }
}
process.once('exit', killAll);

/** SIGTERM to the child's group, SIGKILL after graceMs; resolves once it has exited. */
async function stopChild(c: ChildProcess, graceMs = 3_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-c.pid!, s);
    } catch {
      c.kill(s);
    }
  };
  signal('SIGTERM');
  const t = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
  children.delete(c);
}

interface MockProcess {
  url: string;
  pid: number;
  /** POST /v1/messages so far, and TCP connections accepted so far */
  count(): Promise<number>;
  connections(): Promise<number>;
  stop(): Promise<void>;
}

async function startMockProcess(): Promise<MockProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve-mock'], {
    execArgv: process.execArgv, // tsx's loader, as this process runs
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the mock did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`the mock exited (${code}) before it was ready`)));
    child.on('message', (m: { type?: string; url?: string }) => {
      if (m.type === 'ready') {
        clearTimeout(t);
        resolve(m.url!);
      }
    });
  });
  let waiting: ((m: { count: number; connections: number }) => void)[] = [];
  child.on('message', (m: { type?: string; count: number; connections: number }) => {
    if (m.type !== 'count') return;
    const w = waiting;
    waiting = [];
    for (const f of w) f(m);
  });
  const ask = () =>
    new Promise<{ count: number; connections: number }>((resolve) => {
      waiting.push(resolve);
      child.send({ type: 'count' });
    });
  return {
    url,
    pid: child.pid!,
    count: async () => (await ask()).count,
    connections: async () => (await ask()).connections,
    async stop() {
      if (child.connected) child.send({ type: 'close' });
      const t = setTimeout(() => void stopChild(child, 1_000), 2_000);
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
      children.delete(child);
    },
  };
}

// Portkey's server listens on every interface (its CLI takes only --port); this preload makes a
// listen() without a host take 127.0.0.1.
const LOOPBACK_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...a) {
  if (typeof a[0] === 'number') {
    if (a[1] === undefined) a[1] = '127.0.0.1';
    else if (typeof a[1] === 'function') a.splice(1, 0, '127.0.0.1');
  } else if (a[0] && typeof a[0] === 'object' && a[0].host === undefined && a[0].path === undefined) a[0] = { ...a[0], host: '127.0.0.1' };
  return listen.apply(this, a);
};`,
  );
const PORTKEY_SERVER = path.join(ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js');

interface PortkeyProcess {
  url: string;
  pid: number;
  version: string;
  output(): string;
  stop(): Promise<void>;
}

async function startPortkey(): Promise<PortkeyProcess> {
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as { version: string }).version;
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', LOOPBACK_PRELOAD, PORTKEY_SERVER, `--port=${port}`, '--headless'], {
    cwd: ROOT,
    // NODE_ENV=production: no log UI routes; as `npm run start:node` would with a production env.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  const out = outputTail(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(`${url}/`);
      const text = await res.text();
      if (res.ok && /AI Gateway/.test(text)) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const pk: PortkeyProcess = { url, pid: child.pid!, version, output: out, stop: () => stopChild(child) };
  if (child.exitCode !== null || Date.now() >= deadline) {
    await pk.stop();
    throw new Error(`Portkey did not start:\n${out().slice(-3000)}`);
  }
  return pk;
}

// ---------------------------------------------------------------------------------------------
// Load.

interface Target {
  key: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** the process measured for RSS and CPU (none for the direct rows) */
  pid?: number;
  /** the text of a parsed answer */
  text(body: any): unknown;
}

interface Run {
  result: autocannon.Result;
  /** ms of every 2xx answer, from autocannon's hrtime per request */
  lat: number[];
  reqPerS: number;
  upstream: number;
  /** TCP connections the mock accepted during the row */
  conns: number;
  cpu: { target: number; mock: number; bench: number };
  peakRssKb: number;
}

async function drive(t: Target, mock: MockProcess, o: { connections: number; duration?: number; amount?: number }): Promise<Run> {
  const lat: number[] = [];
  const up0 = await mock.count();
  const conn0 = await mock.connections();
  const c0 = { target: t.pid ? cpuSeconds(t.pid).self : 0, mock: cpuSeconds(mock.pid).self, bench: process.cpuUsage() };
  const sampler = t.pid ? sampleRss(t.pid) : undefined;
  const inst = autocannon({
    url: t.url,
    method: 'POST',
    headers: t.headers,
    body: t.body,
    connections: o.connections,
    timeout: 30,
    ...(o.duration ? { duration: o.duration } : { amount: o.amount }),
  });
  (inst as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) lat.push(ms);
  });
  const result = await inst;
  const bench = process.cpuUsage(c0.bench);
  const peak = sampler?.stop();
  await sleep(300); // the last upstream calls of requests cut off at the end reach the count
  const upstream = (await mock.count()) - up0;
  const conns = (await mock.connections()) - conn0;
  return {
    result,
    lat,
    reqPerS: result['2xx'] / result.duration,
    upstream,
    conns,
    cpu: {
      target: t.pid ? cpuSeconds(t.pid).self - c0.target : 0,
      mock: cpuSeconds(mock.pid).self - c0.mock,
      bench: (bench.user + bench.system) / 1e6,
    },
    peakRssKb: peak?.root ?? 0,
  };
}

function vmKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  const SECONDS = envInt('BENCH_SECONDS', envInt('BENCH_DURATION_S', 10));
  const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50);
  const SEQ_N = envInt('BENCH_SEQ_N', 2000);
  const ROUNDS = 4;
  const WARMUP = envInt('BENCH_WARMUP', 3000);
  const WITH_PORTKEY = process.env.BENCH_PORTKEY !== '0' && existsSync(PORTKEY_SERVER);
  if (process.env.BENCH_PORTKEY !== '0' && !WITH_PORTKEY) console.error(`!!! ${PORTKEY_SERVER} is missing (npm install): no Portkey row`);
  const EXTRA_ENV = gatewayEnvFromBench();

  const machine = machineLine();
  const loadStart = loadavg();
  const t0 = performance.now();
  const dirs = benchDirs('bench-api-path-');
  let mock: MockProcess | undefined;
  let gw: GatewayProcess | undefined;
  let pk: PortkeyProcess | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    killAll();
    rmSync(dirs.dir, { recursive: true, force: true });
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const gwEnv: Record<string, string> = {
    HOME: dirs.home,
    DATA_DIR: path.join(dirs.dir, 'data'),
    CLAUDE_WORKDIR: dirs.workspace,
    ANTHROPIC_API_KEY: 'test',
    POOL_SIZE: '0',
    // As many runs at once as connections (no queueing in the gateway: Portkey has no such limit),
    // and room to queue anything else.
    MAX_CONCURRENCY: String(CONNECTIONS),
    MAX_QUEUE: '10000',
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '1000',
    ...EXTRA_ENV,
  };

  const idle: Record<string, number> = {};
  const seq = new Map<string, number[]>();
  const load = new Map<string, Run>();
  const failures: string[] = [];
  let targets: Target[] = [];
  let loadEnd = '';
  let loadMid = '';
  const hwm: Record<string, number> = {};
  try {
    mock = await startMockProcess();
    gw = await startGatewayProcess({ ...gwEnv, ANTHROPIC_BASE_URL: mock.url });
    if (WITH_PORTKEY) pk = await startPortkey();
    await sleep(1000);
    idle.gw = vmKb(gw.pid, 'VmRSS');
    if (pk) idle.pk = vmKb(pk.pid, 'VmRSS');

    const json = { 'content-type': 'application/json' };
    const anthropicHeaders = { ...json, 'x-api-key': 'test', 'anthropic-version': '2023-06-01' };
    const messageText = (b: any) => b?.content?.[0]?.text;
    const chatText = (b: any) => b?.choices?.[0]?.message?.content;
    targets = [
      { key: 'direct', name: '(1) mock direct, stream:false (baseline)', url: `${mock.url}/v1/messages`, headers: anthropicHeaders, body: JSON.stringify(MESSAGES_BODY), text: messageText },
      {
        key: 'directSse',
        name: '(1b) mock direct, stream:true',
        url: `${mock.url}/v1/messages`,
        headers: anthropicHeaders,
        body: JSON.stringify({ ...MESSAGES_BODY, stream: true }),
        text: (b: string) => (typeof b === 'string' && b.includes('message_stop') && b.includes(REPLY) ? REPLY : b),
      },
      { key: 'gw', name: '(2) our gateway', url: `${gw.url}/v1/chat/completions`, headers: json, body: JSON.stringify(CHAT_BODY), pid: gw.pid, text: chatText },
    ];
    if (pk) {
      targets.push({
        key: 'pk',
        name: `(3) Portkey ${pk.version}`,
        url: `${pk.url}/v1/chat/completions`,
        headers: { ...json, 'x-portkey-provider': 'anthropic', 'x-portkey-custom-host': `${mock.url}/v1`, authorization: 'Bearer test' },
        body: JSON.stringify(PORTKEY_BODY),
        pid: pk.pid,
        text: chatText,
      });
    }

    // Each answers right, and reaches the mock.
    for (const t of targets) {
      const before = await mock.count();
      const res = await fetch(t.url, { method: 'POST', headers: t.headers, body: t.body });
      const raw = await res.text();
      let parsed: unknown = raw;
      try {
        parsed = JSON.parse(raw);
      } catch {
        // SSE or an error text
      }
      const calls = (await mock.count()) - before;
      if (res.status !== 200 || t.text(parsed) !== REPLY || calls !== 1) {
        throw new Error(`${t.name} answered ${res.status} (${calls} upstream calls): ${raw.slice(0, 600)}`);
      }
    }

    // Warm-up (JIT, connection pools), not measured.
    for (const t of targets) await drive(t, mock, { connections: CONNECTIONS, amount: WARMUP });

    // Low load: 1 connection, sequential; rounds interleaved so that drift hits every row alike.
    for (const t of targets) seq.set(t.key, []);
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of targets) {
        const run = await drive(t, mock, { connections: 1, amount: Math.ceil(SEQ_N / ROUNDS) });
        checkRun(t, run, `low load, round ${r + 1}`, failures);
        seq.get(t.key)!.push(...run.lat);
      }
    }

    loadMid = loadavg();
    // Load: each row in turn.
    for (const t of targets) {
      const run = await drive(t, mock, { connections: CONNECTIONS, duration: SECONDS });
      checkRun(t, run, 'load', failures);
      load.set(t.key, run);
    }
    loadEnd = loadavg();
    hwm.gw = vmKb(gw.pid, 'VmHWM');
    if (pk) hwm.pk = vmKb(pk.pid, 'VmHWM');
  } catch (err) {
    if (gw) console.error(`our gateway's output (tail):\n${gw.output().slice(-3000)}`);
    if (pk) console.error(`Portkey's output (tail):\n${pk.output().slice(-3000)}`);
    throw err;
  } finally {
    await gw?.stop();
    await pk?.stop();
    await mock?.stop();
    rmSync(dirs.dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const total = (performance.now() - t0) / 1000;

  // ---- report
  const p = (xs: number[], q: number) => percentile(xs, q);
  const base = load.get('direct')!;
  const baseSeq = seq.get('direct')!;
  const isGw = (t: Target) => t.key === 'gw' || t.key === 'pk';
  const added = (xs: number[], ref: number[], q: number) => p(xs, q) - p(ref, q);

  console.log('## api-path: anthropic/<model> through our gateway vs Portkey vs the mock directly\n');
  console.log(`workload: non-streamed chat completion, ${JSON.stringify(CHAT_BODY)}`);
  console.log(`  to our gateway (POST /v1/chat/completions; it calls the mock's /v1/messages with stream:true),`);
  console.log(`  to Portkey (same body, model ${JSON.stringify(MODEL)}, x-portkey-provider: anthropic, x-portkey-custom-host: <mock>/v1; it calls with stream:false),`);
  console.log(`  and the mock directly: POST /v1/messages ${JSON.stringify(MESSAGES_BODY)} (stream:false; row 1b stream:true).`);
  console.log(`  mock: test/support/mock-anthropic.ts in its own process, no delay, text ${JSON.stringify(REPLY)}, server keep-alive ${envInt('BENCH_MOCK_KEEPALIVE_MS', 10_000)} ms (BENCH_MOCK_KEEPALIVE_MS).`);
  console.log(`  our gateway: own process (${gatewayCommand()}), ${describeEnv({ ...gwEnv, ANTHROPIC_BASE_URL: '<mock>' })}.`);
  if (pk) console.log(`  Portkey: own process (node ${path.relative(ROOT, PORTKEY_SERVER)} --port=<free> --headless, NODE_ENV=production, held on 127.0.0.1).`);
  console.log(`  load: autocannon in the bench's process, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per row, after ${WARMUP} warm-up requests per row;`);
  console.log(`  low load: 1 connection, sequential, ${SEQ_N} requests per row (${ROUNDS} interleaved rounds). Latency: per request, client side.`);
  console.log(`  ${machine}; load avg (1/5/15 min) ${loadStart} at start, ${loadMid} before the load rows, ${loadEnd} after; total ${total.toFixed(1)} s\n`);

  console.log(`### under load (${CONNECTIONS} connections, ${SECONDS} s per row)\n`);
  console.log(
    markdownTable(
      ['row', 'requests', 'non-2xx', 'errors', 'upstream calls', 'upstream conns', 'req/s', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'RSS idle MB', 'peak RSS MB', 'CPU s: proc', 'mock', 'bench'],
      targets.map((t) => {
        const r = load.get(t.key)!;
        return [
          t.name,
          r.result['2xx'] + r.result.non2xx,
          r.result.non2xx,
          r.result.errors + r.result.timeouts,
          r.upstream,
          r.conns,
          fmt(r.reqPerS, 0),
          fmt(p(r.lat, 50), 2),
          fmt(p(r.lat, 99), 2),
          isGw(t) ? fmt(added(r.lat, base.lat, 50), 2) : '',
          isGw(t) ? fmt(added(r.lat, base.lat, 99), 2) : '',
          t.key === 'gw' ? mb(idle.gw!) : t.key === 'pk' ? mb(idle.pk!) : '',
          t.pid ? mb(r.peakRssKb) : '',
          t.pid ? fmt(r.cpu.target) : '',
          fmt(r.cpu.mock),
          fmt(r.cpu.bench),
        ];
      }),
    ),
  );
  console.log(`\n### low load (1 connection, sequential, ${SEQ_N} requests per row)\n`);
  console.log(
    markdownTable(
      ['row', 'answers', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'added p50 vs 1b ms'],
      targets.map((t) => {
        const xs = seq.get(t.key)!;
        const sum = xs.reduce((a, b) => a + b, 0);
        return [
          t.name,
          xs.length,
          fmt((1000 * xs.length) / sum, 0),
          fmt(p(xs, 50), 3),
          fmt(p(xs, 90), 3),
          fmt(p(xs, 99), 3),
          isGw(t) ? fmt(added(xs, baseSeq, 50), 3) : '',
          isGw(t) ? fmt(added(xs, baseSeq, 99), 3) : '',
          isGw(t) ? fmt(added(xs, seq.get('directSse')!, 50), 3) : '',
        ];
      }),
    ),
  );
  console.log('\nadded = the row minus row (1) at the same percentile; "vs 1b" minus the streamed direct row.');
  console.log(`CPU s: over the load row, of the row's gateway process, of the mock process, and of this process (autocannon).`);
  console.log(`peak RSS: VmRSS sampled every 100 ms during the load row; VmHWM at the end: our gateway ${mb(hwm.gw!)} MB${pk ? `, Portkey ${mb(hwm.pk!)} MB` : ''}.`);

  const g = load.get('gw')!;
  const gAddedSeq = added(seq.get('gw')!, baseSeq, 50);
  const gAddedLoad = added(g.lat, base.lat, 50);
  console.log('');
  console.log(`our gateway, added latency p50: ${fmt(gAddedSeq, 3)} ms at low load, ${fmt(gAddedLoad, 2)} ms under load (target ≤ ${TARGET_ADDED_P50_MS}: ${gAddedSeq <= TARGET_ADDED_P50_MS ? 'met' : 'MISSED'} at low load, ${gAddedLoad <= TARGET_ADDED_P50_MS ? 'met' : 'MISSED'} under load)`);
  console.log(`our gateway, CPU per request under load: ${fmt((1000 * g.cpu.target) / Math.max(1, g.result['2xx']), 3)} ms`);
  if (pk) {
    const k = load.get('pk')!;
    const ratio = g.reqPerS / k.reqPerS;
    console.log(`Portkey, CPU per request under load: ${fmt((1000 * k.cpu.target) / Math.max(1, k.result['2xx']), 3)} ms`);
    console.log(`throughput ratio our gateway / Portkey: ${fmt(g.reqPerS, 0)} / ${fmt(k.reqPerS, 0)} = ${ratio.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'})`);
  }
  if (process.env.BENCH_CPU_PROF) {
    const prof = cpuProfileTop(process.env.BENCH_CPU_PROF, 25);
    if (prof) console.log(`\nour gateway's CPU profile, whole run (${fmt(prof.busyMs / 1000)} s busy), top self time: ${prof.file}\n\n${prof.table}`);
  }
  if (failures.length) {
    console.error(`\n!!!!!!!!!! ${failures.length} row(s) had errors, non-2xx answers or missing upstream calls !!!!!!!!!!`);
    for (const f of failures) console.error(`!!! ${f}`);
    process.exitCode = 1;
  }
}

function checkRun(t: Target, run: Run, phase: string, failures: string[]): void {
  const r = run.result;
  const bad = r.non2xx > 0 || r.errors > 0 || r.timeouts > 0;
  // Every 2xx answer is one upstream call (a few more for requests cut off when a timed row ends).
  const missing = run.upstream < r['2xx'];
  if (bad || missing) {
    const msg = `${t.name}, ${phase}: ${r['2xx']} 2xx, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCodeStats)}, ${r.errors} errors, ${r.timeouts} timeouts, ${run.upstream} upstream calls`;
    failures.push(msg);
    console.error(`!!! ${msg}`);
  }
}

if (process.argv.includes('--serve-mock')) {
  serveMock().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    killAll();
    process.exitCode = 1;
  });
}
