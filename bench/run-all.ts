// Runs every benchmark in sequence, each in its own Node process (as `npx tsx bench/<name>.ts`
// would), printing their tables. Exits non-zero if any of them failed.
//
//   npm run bench      (or: npx tsx bench/run-all.ts)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const BENCHES = ['overhead.ts', 'pool.ts', 'stream-latency.ts', 'capacity.ts', 'fanout.ts', 'concurrency.ts', 'tool-roundtrip.ts', 'api-path.ts', 'stateless-conversation.ts', 'telemetry.ts'];

let failed = 0;
for (const [i, name] of BENCHES.entries()) {
  if (i > 0) console.log('');
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript like this process.
  const r = spawnSync(process.execPath, [...process.execArgv, path.join(here, name)], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    failed++;
    console.error(`\nbench/${name} failed (${r.error?.message ?? (r.signal ? `signal ${r.signal}` : `exit ${r.status}`)})`);
  }
}
process.exitCode = failed ? 1 : 0;
