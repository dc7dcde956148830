import type { FastifyPluginAsync } from 'fastify';

const health: FastifyPluginAsync = async (app) => {
  const { manager, assertReady } = app.gateway;

  // Probes are exempt from load shedding: a busy gateway is not a dead one.
  const probe = { config: { pressureHandler: () => undefined } };

  /** Liveness: the event loop answers. */
  app.get('/health', probe, async () => ({ status: 'ok' }));

  /** Readiness: the CLI is installed and answers `--version`. */
  app.get('/ready', probe, async () => {
    const h = await assertReady();
    return { status: 'ready', claude_version: h.version, running: manager.activeCount, queued: manager.queuedCount };
  });
};

export default health;
