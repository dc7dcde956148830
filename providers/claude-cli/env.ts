const ALWAYS = ['PATH', 'HOME', 'CLAUDE_CODE_OAUTH_TOKEN'];
const PROXY = /^(https?_proxy|no_proxy|all_proxy)$/i;

/**
 * The child's whole environment: an allow-list of the gateway's, never the rest (gateway keys
 * and other secrets stay out of anything the CLI or its tools run).
 */
export function childEnv(
  parent: NodeJS.ProcessEnv,
  opts: { claudeConfigDir: string; passthrough: readonly string[] },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (ALWAYS.includes(name) || name.startsWith('ANTHROPIC_') || PROXY.test(name) || opts.passthrough.includes(name)) {
      env[name] = value;
    }
  }
  env.CLAUDE_CONFIG_DIR = opts.claudeConfigDir;
  env.DISABLE_TELEMETRY = '1';
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
  return env;
}
