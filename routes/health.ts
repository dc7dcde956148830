import type { FastifyPluginAsync } from 'fastify';

const health: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  /** Liveness: the event loop answers. */
  app.get('/health', { config: { public: true } }, async () => ({ status: 'ok' }));

  /**
   * Readiness: every provider is usable (the CLI is installed and answers `--version`); what an
   * operator should know without it being unready (the CLI has no credentials) comes as `warnings`.
   */
  app.get('/ready', { config: { public: true } }, async () => {
    const versions = await gateway.ready();
    const { running, queued, pool } = gateway.stats();
    const warnings = Object.values(versions).flatMap((v) => v.warnings ?? []);
    return { status: 'ready', claude_version: versions['claude-cli']?.version, running, queued, pool, ...(warnings.length ? { warnings } : {}) };
  });
};

export default health;
