import { existsSync } from 'node:fs';
import path from 'node:path';

/** The variables through which the CLI gets a credential. */
const CREDENTIAL_VARIABLES = ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN'] as const;

/**
 * Why the CLI would have no credentials with this environment (the child's) and config dir, or
 * undefined when it has one: a key or token in its environment, or a login (`claude /login`) stored
 * in its config dir. Names variables, never values.
 */
export function missingCredentials(env: Readonly<Record<string, string | undefined>>, configDir: string): string | undefined {
  if (CREDENTIAL_VARIABLES.some((name) => env[name]?.trim())) return undefined;
  if (existsSync(path.join(configDir, '.credentials.json'))) return undefined;
  return (
    `the Claude CLI has no credentials: none of ${CREDENTIAL_VARIABLES.join(', ')} is set and ${configDir} holds no login ` +
    `(run \`CLAUDE_CONFIG_DIR=${configDir} claude /login\`); its requests will fail until it has one`
  );
}
