// TEMPORARY profiling script (deleted after use)
import { spawn } from 'node:child_process';
import { startGateway } from '../test/support/gateway.js';
import { startMockAnthropic } from '../test/support/mock-anthropic.js';
import { spawnCli } from '../providers/claude-cli/spawn.js';
import { CLAUDE_BIN, benchDirs, cliEnv, cliArgs, median, percentile, fmt, envInt } from './lib.js';
const N = envInt('BENCH_N', 20);
const mock = await startMockAnthropic();
mock.setDefault({ text: 'Hello from mock' });
const gw = await startGateway({ mock, env: { POOL_SIZE: '0' } });
const d = benchDirs('ovprof-');
const env = cliEnv({ home: d.home, configDir: d.configDir, baseUrl: mock.url });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const nodeSpawn = () => new Promise<number[]>((res) => {
  const c0 = cpu(); const t0 = performance.now(); let tl = 0; let out = '';
  const c = spawn(CLAUDE_BIN, cliArgs(), { env, cwd: d.workspace, stdio: ['pipe', 'pipe', 'pipe'] });
  const ts = performance.now() - t0;
  c.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; if (!tl && out.includes('\n')) tl = performance.now() - t0; });
  c.once('close', () => res([tl, performance.now() - t0, ts, cpu() - c0]));
  c.stdin.end('Say hello.');
});
const execaSpawn = async (): Promise<number[]> => {
  const c0 = cpu(); const t0 = performance.now();
  const p = spawnCli({ bin: CLAUDE_BIN, args: cliArgs(), cwd: d.workspace, env, stdin: 'Say hello.', signal: new AbortController().signal, killGraceMs: 500 });
  const ts = performance.now() - t0;
  let tl = 0;
  for await (const _ of p.lines) if (!tl) tl = performance.now() - t0;
  await p.exit;
  return [tl, performance.now() - t0, ts, cpu() - c0];
};
// Wrap the provider's run to timestamp entry, result event and generator end.
const prov = gw.app.gateway.provider as any;
const orig = prov.run.bind(prov);
let mark = { enter: 0, result: 0, done: 0 };
prov.run = async function* (req: any, sig: AbortSignal) {
  mark.enter = performance.now();
  for await (const ev of orig(req, sig)) { if (ev.type === 'result') mark.result = performance.now(); yield ev; }
  mark.done = performance.now();
};
const viaGw = async (): Promise<number[]> => {
  const c0 = cpu(); const t0 = performance.now();
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'Say hello.' }] }) });
  const tHead = performance.now();
  await r.json();
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // let the generator finish (it awaits the exit)
  return [t1 - t0, Number(r.headers.get('x-gateway-overhead-ms')), mark.enter - t0, mark.result - mark.enter, t1 - mark.result, tHead - mark.result, cpu() - c0];
};
const R: Record<string, number[]> = {};
const add = (k: string, v: number) => (R[k] ??= []).push(v);
await viaGw(); await nodeSpawn(); await execaSpawn();
for (let i = 0; i < N; i++) {
  const g = await viaGw();
  add('G gateway client total', g[0]!); add('G x-gateway-overhead-ms', g[1]!); add('G fetch start -> provider.run entered', g[2]!);
  add('G provider.run entered -> result (cliMs)', g[3]!); add('G result -> body parsed by client', g[4]!); add('G result -> response headers at client', g[5]!); add('G bench-process CPU ms / request', g[6]!);
  const n = await nodeSpawn(); add('D node spawn -> result line', n[0]!); add('D node spawn -> close', n[1]!); add('D node spawn() sync call', n[2]!); add('D bench-process CPU ms / run', n[3]!);
  const e = await execaSpawn(); add('E execa spawnCli -> result line', e[0]!); add('E execa spawnCli -> exit promise', e[1]!); add('E execa spawnCli sync call', e[2]!); add('E bench-process CPU ms / run', e[3]!);
}
await gw.close(); await mock.close();
for (const [k, v] of Object.entries(R)) console.log(k.padEnd(42), 'median', fmt(median(v), 2).padStart(8), '  p95', fmt(percentile(v, 95), 2).padStart(8));
