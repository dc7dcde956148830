// TEMPORARY profiling script (deleted after use)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
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
const nodeSpawn = () => new Promise<[number, number]>((res) => {
  const t0 = performance.now(); let tl = 0; let out = '';
  const c = spawn(CLAUDE_BIN, cliArgs(), { env, cwd: d.workspace, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  c.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; if (!tl && out.includes('\n')) tl = performance.now() - t0; });
  c.once('close', () => res([tl, performance.now() - t0]));
  c.stdin.end('Say hello.');
});
const execaSpawn = async (): Promise<[number, number, number]> => {
  const t0 = performance.now();
  const p = spawnCli({ bin: CLAUDE_BIN, args: cliArgs(), cwd: d.workspace, env, stdin: 'Say hello.', signal: new AbortController().signal, killGraceMs: 500 });
  const tSpawn = performance.now() - t0;
  let tl = 0;
  for await (const _ of p.lines) if (!tl) tl = performance.now() - t0;
  await p.exit;
  return [tl, performance.now() - t0, tSpawn];
};
const viaGw = async (): Promise<[number, number]> => {
  const t0 = performance.now();
  const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'Say hello.' }] }) });
  await r.json();
  return [performance.now() - t0, Number(r.headers.get('x-gateway-overhead-ms'))];
};
const health = async () => { const t0 = performance.now(); const r = await fetch(`${gw.url}/health`); await r.json(); return performance.now() - t0; };
const R: Record<string, number[]> = {};
const add = (k: string, v: number) => (R[k] ??= []).push(v);
await viaGw(); await nodeSpawn(); await execaSpawn();
for (let i = 0; i < N; i++) {
  const [g, h] = await viaGw(); add('gw client total', g); add('gw header', h);
  const [nl, ne] = await nodeSpawn(); add('node spawn: result line', nl); add('node spawn: exit', ne); add('node spawn: exit - result line', ne - nl);
  const [el, ee, es] = await execaSpawn(); add('execa spawnCli: result line', el); add('execa spawnCli: exit', ee); add('execa: sync spawn call', es); add('execa: exit - result line', ee - el);
  add('GET /health', await health());
}
await gw.close(); await mock.close();
for (const [k, v] of Object.entries(R)) console.log(k.padEnd(34), 'median', fmt(median(v), 2).padStart(8), 'p95', fmt(percentile(v, 95), 2).padStart(8));
