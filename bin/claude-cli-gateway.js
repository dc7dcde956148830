#!/usr/bin/env node
// `npx claude-cli-gateway`: runs the built entry (dist/src/cli.js), building it first, as `npm start`
// does, when it is missing or older than the sources (a pull since the last build).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'src', 'cli.js');
const buildInfo = path.join(root, 'dist', '.tsbuildinfo');

/** The newest modification time among the sources tsconfig.build.json compiles (0 without them). */
function newestSource() {
  let newest = 0;
  for (const dir of ['src', 'routes', 'providers']) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const file of readdirSync(abs, { recursive: true })) {
      if (String(file).endsWith('.ts')) newest = Math.max(newest, statSync(path.join(abs, String(file))).mtimeMs);
    }
  }
  return newest;
}

const stale = () => !existsSync(buildInfo) || statSync(buildInfo).mtimeMs < newestSource();
if (!existsSync(entry) || stale()) {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) {
    process.stderr.write('claude-cli-gateway: the build failed (npm run build)\n');
    process.exit(1);
  }
  // tsc leaves its build info alone when nothing it compiles changed (a touched file): marked built.
  const now = new Date();
  if (existsSync(buildInfo)) utimesSync(buildInfo, now, now);
}
await import(pathToFileURL(entry).href);
