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

/**
 * A run's environment. With Claude Code tools enabled and `sandbox` on, the CLI runs their
 * subprocesses (Bash and the like) in its bubblewrap sandbox, with its credentials
 * (ANTHROPIC_API_KEY, the OAuth token, …) scrubbed from their environment and its own process, whose
 * environment holds them, out of their sight.
 */
export function runEnv(env: Record<string, string>, tools: readonly string[], sandbox: boolean): Record<string, string> {
  return sandbox && tools.length ? { ...env, CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '1' } : env;
}
