// Streaming delay: how long after a text delta exists does the client receive its SSE chunk?
//
// Three timestamps per delta, all on one clock (process.hrtime = CLOCK_MONOTONIC, shared by every
// process on the machine):
//   upstream send  this file's own SSE upstream (Anthropic Messages wire format, like the project
//                  mock, but it records when it writes each delta), 127.0.0.1
//   CLI stdout     CLAUDE_BIN points at a tiny Node wrapper (written to a temp dir) that runs the
//                  real CLI with stdout piped, forwards every chunk at once and notes when it read
//                  each line; the log goes to $HOME (the gateway passes HOME to its child)
//   client recv    plain fetch reading the gateway's SSE body, timestamp at each read
// Reported: client − CLI stdout (the gateway's own added delay, the one that matters; includes
// the wrapper's extra pipe hop) and client − upstream send (end to end, the CLI's share included).
//
//   npx tsx bench/stream-latency.ts    (BENCH_DELTAS=300, BENCH_DELTA_MS=10, BENCH_STREAM_RUNS=2)
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { startGateway, tempDir } from '../test/support/gateway.js';
import { lastUserTextOf } from '../test/support/mock-anthropic.js';
import { CLAUDE_BIN, envInt, fmt, machineLine, markdownTable, median, percentile } from './lib.js';

const DELTAS = envInt('BENCH_DELTAS', 300);
const DELTA_MS = envInt('BENCH_DELTA_MS', 10);
const RUNS = envInt('BENCH_STREAM_RUNS', 2);
const MARKER = 'BENCH_STREAM';
const TAP_PREFIX = 'bench-stream-tap-';

const now = (): number => Number(process.hrtime.bigint()) / 1e6; // ms, monotonic, cross-process
/** Delta texts are unique across runs too: `r1t0001 `, `r1t0002 `, … */
const token = (run: number, i: number): string => `r${run}t${String(i).padStart(4, '0')}`;
const TOKEN_RE = /r(\d+)t(\d{4})/g;
const key = (m: RegExpMatchArray): string => `${m[1]}:${Number(m[2])}`;

/** The wrapper CLAUDE_BIN points at. Plain Node, no dependencies; stdin and stderr are inherited. */
function wrapperSource(realBin: string): string {
  return `#!/usr/bin/env node
// bench-only: runs the real Claude CLI, forwards its stdout unchanged and at once, and appends
// "<hrtime ms> <line>" per stdout line to $HOME/${TAP_PREFIX}<pid>.log as it goes (the CLI may be a
// long-lived pool process that outlives the measured turns).
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';
const logFile = path.join(process.env.HOME || '/tmp', '${TAP_PREFIX}' + process.pid + '.log');
const child = spawn(${JSON.stringify(realBin)}, process.argv.slice(2), { stdio: ['inherit', 'pipe', 'inherit'] });
let partial = '';
child.stdout.on('data', (buf) => {
  const t = (Number(process.hrtime.bigint()) / 1e6).toFixed(3);
  process.stdout.write(buf);
  const parts = (partial + buf.toString('utf8')).split('\\n');
  partial = parts.pop();
  if (parts.length) try { appendFileSync(logFile, parts.map((line) => t + ' ' + line + '\\n').join('')); } catch {}
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('close', (code, signal) => {
  process.exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1);
});
`;
}

interface Upstream {
  url: string;
  /** hrtime ms of each delta's write, by `run:index` */
  sent: Map<string, number>;
  close(): Promise<void>;
}

/** A minimal Anthropic Messages upstream. Marked prompts get DELTAS text deltas DELTA_MS apart. */
async function startUpstream(): Promise<Upstream> {
  const sent = new Map<string, number>();
  const sockets = new Set<Socket>();
  const sse = (res: http.ServerResponse, type: string, data: object) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  let n = 0;
  const server = http.createServer({ noDelay: true }, (req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (s: string) => (raw += s));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages') || req.url.startsWith('/v1/messages/count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(req.url?.includes('count_tokens') ? '{"input_tokens":10}' : '{}');
        return;
      }
      let body: { model?: string; stream?: boolean } = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // empty body: default answer
      }
      const run = /BENCH_STREAM run (\d+)/.exec(lastUserTextOf(body))?.[1];
      const texts = run !== undefined ? expectedText(Number(run)) : ['ok'];
      const model = body.model ?? 'claude-mock';
      const id = `msg_bench_${++n}`;
      const usage = { input_tokens: 10, output_tokens: texts.length, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text: texts.join('') }], stop_reason: 'end_turn', stop_sequence: null, usage }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      sse(res, 'message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
      sse(res, 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      let i = 0;
      const finish = () => {
        sse(res, 'content_block_stop', { index: 0 });
        sse(res, 'message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: texts.length } });
        sse(res, 'message_stop', {});
        res.end();
      };
      const step = () => {
        if (res.destroyed) return;
        sse(res, 'content_block_delta', { index: 0, delta: { type: 'text_delta', text: texts[i] } });
        if (run !== undefined) sent.set(`${run}:${i + 1}`, now());
        if (++i < texts.length) setTimeout(step, DELTA_MS);
        else finish();
      };
      step();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** One streamed completion; returns the client receive time per `run:index`. */
async function streamOnce(gatewayUrl: string, prompt: string): Promise<{ received: Map<string, number>; text: string }> {
  const received = new Map<string, number>();
  const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sonnet', stream: true, messages: [{ role: 'user', content: prompt }] }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  let text = '';
  let done = false;
  const reader = res.body.getReader();
  for (;;) {
    const { value, done: eof } = await reader.read();
    const t = now();
    if (eof) break;
    buf += decoder.decode(value, { stream: true });
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const data = event.startsWith('data: ') ? event.slice(6) : '';
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const chunk = JSON.parse(data) as { error?: unknown; choices?: { delta?: { content?: string } }[] };
      if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`);
      const content = chunk.choices?.[0]?.delta?.content;
      if (!content) continue;
      text += content;
      for (const m of content.matchAll(TOKEN_RE)) if (!received.has(key(m))) received.set(key(m), t);
    }
  }
  if (!done) throw new Error('stream ended without [DONE]');
  return { received, text };
}

/** CLI stdout time per `run:index`, from the wrapper's logs (stream_event text deltas only). */
function readTap(home: string, at = new Map<string, number>()): Map<string, number> {
  for (const f of readdirSync(home).filter((n) => n.startsWith(TAP_PREFIX))) {
    const file = path.join(home, f);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const sp = line.indexOf(' ');
      if (sp < 0) continue;
      const json = line.slice(sp + 1);
      if (!json.includes('"stream_event"') || !json.includes('text_delta')) continue;
      const t = Number(line.slice(0, sp));
      for (const m of json.matchAll(TOKEN_RE)) if (!at.has(key(m))) at.set(key(m), t);
    }
    rmSync(file);
  }
  return at;
}

const expectedText = (run: number): string[] => Array.from({ length: DELTAS }, (_, i) => `${token(run, i + 1)} `);

async function main(): Promise<void> {
  const machine = machineLine(); // before the load of the bench itself
  const upstream = await startUpstream();
  const binDir = tempDir('bench-stream-bin-');
  const wrapper = path.join(binDir, 'claude-tap.mjs');
  writeFileSync(wrapper, wrapperSource(CLAUDE_BIN));
  chmodSync(wrapper, 0o755);
  const home = path.join(binDir, 'home'); // the CLI's HOME; the wrapper writes its log there
  mkdirSync(home);
  const gw = await startGateway({ env: { CLAUDE_BIN: wrapper }, parentEnv: { ANTHROPIC_BASE_URL: upstream.url, HOME: home } });

  const e2e: number[] = [];
  const gateway: number[] = [];
  const cliShare: number[] = [];
  let chunksMissing = 0;
  const t0 = performance.now();
  try {
    await streamOnce(gw.url, 'warm-up'); // not timed: first spawn, JIT
    const tap = new Map<string, number>();
    for (let r = 1; r <= RUNS; r++) {
      const { received, text } = await streamOnce(gw.url, `${MARKER} run ${r}`);
      const expected = expectedText(r).join('');
      if (text !== expected) throw new Error(`streamed text differs from what the upstream sent (${text.length} vs ${expected.length} chars)`);
      // The wrapper appends as the CLI prints; its last lines may land just after the response ended.
      const last = `${r}:${DELTAS}`;
      for (const deadline = Date.now() + 5000; !tap.has(last) && Date.now() < deadline; ) {
        readTap(home, tap);
        if (!tap.has(last)) await new Promise((res) => setTimeout(res, 20));
      }
      for (let i = 1; i <= DELTAS; i++) {
        const k = `${r}:${i}`;
        const sent = upstream.sent.get(k);
        const got = received.get(k);
        const cli = tap.get(k);
        if (sent === undefined || got === undefined) {
          chunksMissing++;
          continue;
        }
        e2e.push(got - sent);
        if (cli !== undefined) {
          gateway.push(got - cli);
          cliShare.push(cli - sent);
        }
      }
    }
  } finally {
    await gw.close();
    await upstream.close();
    rmSync(binDir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  const row = (name: string, s: number[]) => [name, s.length, fmt(median(s), 2), fmt(percentile(s, 99), 2), fmt(Math.max(...s), 2)];
  console.log('## stream-latency: text delta → client SSE chunk\n');
  console.log(`workload: ${RUNS} streamed completions (stream:true) after 1 warm-up, each ${DELTAS} unique text deltas`);
  console.log(`  ("r1t0001 ", "r1t0002 ", …) ${DELTA_MS} ms apart from an in-bench SSE upstream on 127.0.0.1;`);
  console.log(`  real CLI behind a stdout-tapping wrapper (CLAUDE_BIN), in-process gateway (startGateway), fetch client;`);
  console.log(`  timestamps: process.hrtime (CLOCK_MONOTONIC) in every process`);
  console.log(`  ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(
      ['delay (ms)', 'deltas', 'median', 'p99', 'max'],
      [row('client − CLI stdout (gateway)', gateway), row('CLI stdout − upstream send (CLI)', cliShare), row('client − upstream send (end to end)', e2e)],
    ),
  );
  if (chunksMissing) console.log(`\n${chunksMissing} deltas without a timestamp on one side (left out)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
