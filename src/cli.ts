// The command-line entry (`npx claude-cli-gateway`): flags mirror the environment, `check` reports
// the setup, and anything else starts the gateway as `npm start` does (src/main.ts).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, parseArgs } from './cli/args.js';
import { helpText } from './cli/help.js';
import { projectRoot } from './paths.js';

function version(): string {
  return (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

async function run(): Promise<void> {
  let invocation;
  try {
    invocation = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`claude-cli-gateway: ${err.message}\n`);
    process.exit(2);
  }
  switch (invocation.command) {
    case 'help':
      process.stdout.write(`${helpText(version())}\n`);
      return;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return;
    case 'check': {
      // Loaded only here: --help and --version need none of the gateway.
      const { checkSetup, formatCheck } = await import('./cli/check.js');
      const lines = checkSetup({ ...process.env, ...invocation.env });
      process.stdout.write(`${formatCheck(lines)}\n`);
      process.exitCode = lines.some((l) => l.problem) ? 1 : 0;
      return;
    }
    case 'start':
      // The flags win over the environment; main reads the environment. Importing it starts the
      // gateway exactly as `npm start` (node dist/src/main.js) does: one start, two entries.
      Object.assign(process.env, invocation.env);
      await import('./main.js');
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`claude-cli-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
