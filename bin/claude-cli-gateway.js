#!/usr/bin/env node
// `npx claude-cli-gateway`: runs the built entry (dist/src/cli.js), building it first when it is
// missing, as `npm start` does.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'src', 'cli.js');
if (!existsSync(entry)) {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) {
    process.stderr.write('claude-cli-gateway: the build failed (npm run build)\n');
    process.exit(1);
  }
}
await import(pathToFileURL(entry).href);
