import type { FastifyPluginAsync } from 'fastify';

const health: FastifyPluginAsync = async (app) => {
  const { manager, readiness, provider } = app.gateway;

  /** Liveness: the event loop answers. */
  app.get('/health', { config: { public: true } }, async () => ({ status: 'ok' }));

  /** Readiness: the CLI is installed and answers `--version`. */
  app.get('/ready', { config: { public: true } }, async () => {
    const h = await readiness.assert();
    return {
      status: 'ready',
      claude_version: h.version,
      running: manager.activeCount,
      queued: manager.queuedCount,
      pool: provider.capabilities.lifecycle?.stats(),
    };
  });
};

export default health;
