// A stateless client's conversation: every turn sends the whole conversation so far (user, assistant,
// user, …), as the OpenAI SDK does. Three paths, side by side, turn by turn:
//   - auto on:  a gateway with AUTO_SESSIONS=1 (its own process): turn k > 1 is found to continue
//               turn 1's session, so it runs on that session's hot pooled CLI process;
//   - auto off: a gateway with AUTO_SESSIONS=0: every turn is a new session, its history rendered into
//               the prompt (the pool's warm process when there is one, else a `claude -p` spawn);
//   - one-shot: the CLI called directly, `claude -p` with the same conversation rendered as text on
//               stdin each turn (the gateway's own rendering, renderConversation), spawn → exit.
// Real CLI, the project's mock Anthropic upstream (in this process) answering after a fixed delay.
// Per turn, the median over BENCH_REPS conversations; the target is turns 2–10 with auto on at
// ≤ 0.15× one-shot. Also checks that with auto on turns 2–10 keep turn 1's session_id (and the CLI
// sends the upstream the real transcript, not a rendered one), and that with auto off they do not.
//
//   npx tsx bench/stateless-conversation.ts   (BENCH_REPS=3 BENCH_TURNS=10 BENCH_UPSTREAM_DELAY_MS=200
//                                              BENCH_POOL_SIZE=1 BENCH_SETTLE_MS=3000; BENCH_GW_<NAME>=v
//                                              sets <NAME> for both gateways)
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { renderConversation } from '../providers/claude-cli/render.js';
import type { Message } from '../providers/types.js';
import { type RecordedRequest, startMockAnthropic } from '../test/support/mock-anthropic.js';
import {
  CLAUDE_BIN,
  type GatewayProcess,
  benchDirs,
  cliArgs,
  cliEnv,
  describeEnv,
  envInt,
  fmt,
  gatewayCommand,
  gatewayEnvFromBench,
  machineLine,
  markdownTable,
  median,
  processTree,
  quiet,
  runCliDirect,
  sleep,
  startGatewayProcess,
} from './lib.js';

const REPS = envInt('BENCH_REPS', 3);
const TURNS = envInt('BENCH_TURNS', 10, 2);
const DELAY_MS = envInt('BENCH_UPSTREAM_DELAY_MS', 200, 0);
const POOL_SIZE = envInt('BENCH_POOL_SIZE', 1, 0);
/**
 * Time from the last request that may have made a gateway start a new CLI process (a pool refill:
 * ~0.4 s of CPU in bursts over ~2.3 s, see pool.ts) to the next sample, then quiet(). It stands for
 * the user's time between turns, and keeps one path's start-ups out of another's samples.
 */
const SETTLE_MS = envInt('BENCH_SETTLE_MS', 3000, 0);
const TARGET = 0.15;
const HISTORY_TAG = '<conversation_history>';
const RUN = randomUUID().slice(0, 8); // in every question: no two runs' conversations look alike

type PathName = 'on' | 'off' | 'oneshot';
const PATHS: PathName[] = ['off', 'oneshot', 'on']; // the order within a turn

/** The user's question of turn `turn`, marked so that the mock can tell which turn it answers. */
const question = (conv: string, turn: number) =>
  `[q:${conv}:${turn}] Question ${turn} of this conversation: in two or three sentences, what should I look at next, given what you said so far?`;

/** The mock's answer to a marked question: a few sentences, so that the history grows as a real one does. */
const answerTo = (marker: string) =>
  `Answer to ${marker}. Look at the process pool first: a warm process answers in a fraction of the time ` +
  'a fresh one takes. Then check the session store, which keeps every turn on disk before the answer ' +
  'goes out. Finally, compare both with the one-shot path, which renders the whole history each time.';

const MARKER = /\[q:[^\]]+\]/g;
/** The last marker in a request's last user text (a rendered history holds every earlier one too). */
const lastMarker = (text: string): string | undefined => text.match(MARKER)?.at(-1);

interface Sample {
  ms: number;
  sessionId: string;
}

/** The CLI processes under a gateway (not tsx's esbuild service), by their command line. */
function cliProcesses(pid: number): number {
  return processTree(pid)
    .slice(1)
    .filter((p) => {
      try {
        return path.basename(readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0]!) === path.basename(CLAUDE_BIN);
      } catch {
        return false; // exited meanwhile
      }
    }).length;
}

/** The OpenAI wire form of the conversation (what the client sends). */
type WireMessage = { role: 'user' | 'assistant'; content: string };
/** The same, as the gateway's providers see it (for renderConversation). */
const toMessages = (wire: WireMessage[]): Message[] =>
  wire.map((m) =>
    m.role === 'assistant'
      ? { role: 'assistant', content: [{ type: 'text', text: m.content }], toolCalls: [] }
      : { role: 'user', content: [{ type: 'text', text: m.content }] },
  );

async function main(): Promise<void> {
  const machine = machineLine(); // before the load of the bench itself
  const mock = await startMockAnthropic();
  mock.setDefault((req: RecordedRequest) => {
    const marker = lastMarker(req.lastUserText);
    return { text: marker ? answerTo(marker) : 'ok', firstByteDelayMs: DELAY_MS };
  });
  const dirs = { on: benchDirs('bench-stateless-on-'), off: benchDirs('bench-stateless-off-'), oneshot: benchDirs('bench-stateless-oneshot-') };
  const extraEnv = gatewayEnvFromBench();
  const gatewayEnv = (auto: '0' | '1', d: ReturnType<typeof benchDirs>): Record<string, string> => ({
    HOME: d.home,
    DATA_DIR: path.join(d.dir, 'data'),
    CLAUDE_WORKDIR: d.workspace,
    ANTHROPIC_BASE_URL: mock.url,
    ANTHROPIC_API_KEY: 'sk-test',
    POOL_SIZE: String(POOL_SIZE),
    KILL_GRACE_MS: '500',
    SHUTDOWN_GRACE_MS: '1000',
    ...extraEnv,
    AUTO_SESSIONS: auto,
  });
  const directEnv = cliEnv({ home: dirs.oneshot.home, configDir: dirs.oneshot.configDir, baseUrl: mock.url });
  const gws: Partial<Record<'on' | 'off', GatewayProcess>> = {};

  // samples[path][turn - 1] = one per measured conversation
  const samples: Record<PathName, Sample[][]> = {
    on: Array.from({ length: TURNS }, () => []),
    off: Array.from({ length: TURNS }, () => []),
    oneshot: Array.from({ length: TURNS }, () => []),
  };
  const failures: string[] = [];
  /** CLI processes (warm and hot) under each gateway after each measured conversation. */
  const procs = { on: [] as number[], off: [] as number[] };
  let lastSpawnAt = 0;
  const settle = async () => {
    await sleep(Math.max(0, SETTLE_MS - (performance.now() - lastSpawnAt)));
    await quiet();
  };

  /** The upstream requests that carry `marker`, made since index `from` of mock.requests. */
  const upstreamFor = (from: number, marker: string) =>
    mock.requests.slice(from).filter((r) => r.path.startsWith('/v1/messages') && lastMarker(r.lastUserText) === marker);

  /** One turn through a gateway: the whole conversation so far, the new question last. */
  const viaGateway = async (which: 'on' | 'off', wire: WireMessage[], marker: string): Promise<Sample> => {
    const gw = gws[which]!;
    const from = mock.requests.length;
    const t0 = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', messages: wire }),
    });
    const body = (await res.json()) as { session_id?: string; choices?: { message?: { content?: string } }[] };
    const ms = performance.now() - t0;
    const content = body.choices?.[0]?.message?.content;
    const sessionId = res.headers.get('x-session-id') ?? '';
    if (res.status !== 200 || content !== answerTo(marker) || !sessionId || body.session_id !== sessionId) {
      throw new Error(`auto ${which}: gateway answered ${res.status} (session ${sessionId}): ${JSON.stringify(body).slice(0, 500)}`);
    }
    const up = upstreamFor(from, marker);
    if (up.length === 0) throw new Error(`auto ${which}: no upstream request carried ${marker}`);
    if (wire.length > 1) {
      // auto on: the CLI resumed the session's own transcript, so the upstream gets the turns as
      // messages and no rendered history; auto off: a new session, the history rendered into the prompt.
      const rendered = up.at(-1)!.lastUserText.includes(HISTORY_TAG);
      if (which === 'on' && rendered) failures.push(`auto on, ${marker}: the upstream got a rendered history, not the session's transcript`);
      if (which === 'off' && !rendered) failures.push(`auto off, ${marker}: the upstream got no rendered history`);
    }
    return { ms, sessionId };
  };

  /** One turn of the CLI called directly: `claude -p`, the conversation rendered on stdin, a fresh session. */
  const viaCli = async (wire: WireMessage[], marker: string): Promise<Sample> => {
    const { prompt, systemPrompt } = renderConversation(toMessages(wire), false);
    if (systemPrompt !== undefined) throw new Error('unexpected system prompt');
    const r = await runCliDirect(directEnv, dirs.oneshot.workspace, prompt);
    let result: string | undefined;
    let sessionId = '';
    try {
      const out = JSON.parse(r.stdout) as { result?: string; session_id?: string };
      result = out.result;
      sessionId = out.session_id ?? '';
    } catch {
      // reported below
    }
    if (r.code !== 0 || result !== answerTo(marker)) throw new Error(`one-shot: CLI exited ${r.code}: ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
    return { ms: r.ms, sessionId };
  };

  /** One conversation of `turns` turns on every path, interleaved turn by turn. */
  const conversation = async (label: string, turns: number, keep: boolean) => {
    const wire: Record<PathName, WireMessage[]> = { on: [], off: [], oneshot: [] };
    const first: Partial<Record<PathName, string>> = {};
    const seen: Record<PathName, Set<string>> = { on: new Set(), off: new Set(), oneshot: new Set() };
    for (let turn = 1; turn <= turns; turn++) {
      for (const p of PATHS) {
        const conv = `${RUN}-${label}-${p}`;
        const marker = `[q:${conv}:${turn}]`;
        wire[p].push({ role: 'user', content: question(conv, turn) });
        await settle();
        const s = p === 'oneshot' ? await viaCli(wire[p], marker) : await viaGateway(p, wire[p], marker);
        // A new session through a gateway may take the warm process (and start another) or spawn one;
        // auto on's later turns run on their hot process, and a direct run has exited.
        if (p === 'off' || (p === 'on' && turn === 1)) lastSpawnAt = performance.now();
        wire[p].push({ role: 'assistant', content: answerTo(marker) });
        if (turn === 1) first[p] = s.sessionId;
        else if (p === 'on' && s.sessionId !== first.on) {
          failures.push(`auto on, ${label} turn ${turn}: session ${s.sessionId}, not turn 1's ${first.on}`);
        } else if (p === 'off' && seen.off.has(s.sessionId)) {
          failures.push(`auto off, ${label} turn ${turn}: session ${s.sessionId} again (an earlier turn's)`);
        }
        seen[p].add(s.sessionId);
        if (keep) samples[p][turn - 1]!.push(s);
      }
    }
  };

  const t0 = performance.now();
  try {
    gws.on = await startGatewayProcess(gatewayEnv('1', dirs.on)); // one at a time: a failed start leaves none unowned
    gws.off = await startGatewayProcess(gatewayEnv('0', dirs.off));
    lastSpawnAt = performance.now(); // both pools start their warm processes now
    // Warm-up, not counted: page cache, the CLIs' first config-dir writes, the gateways' JIT.
    await conversation('warmup', 2, false);
    for (let rep = 1; rep <= REPS; rep++) {
      await conversation(`c${rep}`, TURNS, true);
      for (const which of ['on', 'off'] as const) procs[which].push(cliProcesses(gws[which]!.pid));
    }
  } catch (err) {
    for (const [name, gw] of Object.entries(gws)) console.error(`gateway auto ${name} output (tail):\n${gw.output().slice(-3000)}`);
    throw err;
  } finally {
    await Promise.all(Object.values(gws).map((gw) => gw.stop()));
    await mock.close();
    for (const d of Object.values(dirs)) rmSync(d.dir, { recursive: true, force: true });
  }
  const total = (performance.now() - t0) / 1000;

  const med = (p: PathName, turn: number) => median(samples[p][turn - 1]!.map((s) => s.ms));
  const sumOf = (p: PathName, from: number) => {
    let sum = 0;
    for (let t = from; t <= TURNS; t++) sum += med(p, t);
    return sum;
  };
  const ratio = (a: number, b: number) => (a / b).toFixed(3);
  const rows: (string | number)[][] = [];
  for (let t = 1; t <= TURNS; t++) {
    const [on, off, one] = [med('on', t), med('off', t), med('oneshot', t)];
    rows.push([t, fmt(on), fmt(off), fmt(one), ratio(on, one), ratio(off, one)]);
  }
  const [on2, off2, one2] = [sumOf('on', 2), sumOf('off', 2), sumOf('oneshot', 2)];
  const [on1, off1, one1] = [sumOf('on', 1), sumOf('off', 1), sumOf('oneshot', 1)];
  rows.push([`sum 2–${TURNS}`, fmt(on2), fmt(off2), fmt(one2), ratio(on2, one2), ratio(off2, one2)]);
  rows.push([`total 1–${TURNS}`, fmt(on1), fmt(off1), fmt(one1), ratio(on1, one1), ratio(off1, one1)]);

  const later = Array.from({ length: TURNS - 1 }, (_, i) => med('on', i + 2) / med('oneshot', i + 2));
  const metTurns = later.filter((r) => r <= TARGET).length;
  // Without the upstream's fixed delay, which every path pays once a turn and no gateway can save.
  const lessDelay = Array.from({ length: TURNS - 1 }, (_, i) => (med('on', i + 2) - DELAY_MS) / (med('oneshot', i + 2) - DELAY_MS));

  console.log('## stateless-conversation: full history each turn, automatic sessions vs one-shot `claude -p`\n');
  console.log(`workload: ${REPS} conversations of ${TURNS} turns (after a 2-turn warm-up conversation), each turn sending the`);
  console.log(`  whole conversation so far (user, assistant, user, …) as an OpenAI client does; in every turn, one at a time`);
  console.log(`  and in this order: auto off, one-shot, auto on. Before every sample the bench waits until ${SETTLE_MS} ms have`);
  console.log(`  passed since the last new-session gateway turn (a pool refill's start-up), then until no CLI under it uses CPU (200 ms).`);
  console.log(`  questions ~150 chars, answers ~330 chars (history at turn ${TURNS}: ${2 * TURNS - 1} messages); CLI ${CLAUDE_BIN}`);
  console.log(`  upstream: project mock in this process, answers after ${DELAY_MS} ms (first byte); ${mock.messageRequests().length} upstream calls`);
  console.log(`  gateways: own processes (${gatewayCommand()}), POOL_SIZE=${POOL_SIZE}, other pool settings default,`);
  console.log(`  settings from the bench's env: ${describeEnv(extraEnv)}; AUTO_SESSIONS=1 (auto on) / 0 (auto off);`);
  console.log(`  plain fetch, time from request to parsed body`);
  console.log(`  one-shot: ${cliArgs('<uuid>').join(' ')}, renderConversation(messages) on stdin, spawn → exit`);
  console.log(`  ${machine}; total ${total.toFixed(1)} s\n`);
  console.log(
    markdownTable(
      ['turn', `auto on ms (median of ${REPS})`, 'auto off ms', 'one-shot ms', 'auto on / one-shot', 'auto off / one-shot'],
      rows,
    ),
  );
  console.log(
    `\ntarget: turns 2–${TURNS} with auto on at ≤ ${TARGET}× one-shot: ${metTurns === TURNS - 1 ? 'met' : 'missed'} ` +
      `(${metTurns} of ${TURNS - 1} turns; per-turn ratios ${fmt(Math.min(...later), 3)}–${fmt(Math.max(...later), 3)}, sum ${ratio(on2, one2)})`,
  );
  if (DELAY_MS > 0) console.log(
    `without the upstream's ${DELAY_MS} ms, which every path pays once a turn: auto on / one-shot ${fmt(Math.min(...lessDelay), 3)}–${fmt(Math.max(...lessDelay), 3)} ` +
      `for turns 2–${TURNS} (median ${fmt(median(lessDelay), 3)})`,
  );
  const onIds = new Set(samples.on.flat().map((s) => s.sessionId));
  const offIds = new Set(samples.off.flat().map((s) => s.sessionId));
  console.log(
    `sessions: auto on ${onIds.size} for ${REPS} conversations, ` +
      `auto off ${offIds.size} for ${REPS * TURNS} turns`,
  );
  console.log(`CLI processes alive under the gateway after each conversation: auto on ${procs.on.join(', ')}; auto off ${procs.off.join(', ')}`);
  if (failures.length) {
    console.error(`\n${failures.length} correctness failures:\n${failures.slice(0, 20).join('\n')}`);
    process.exitCode = 1;
  } else console.log('correctness: all checks passed (session ids; upstream got the transcript with auto on, a rendered history with auto off)');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
