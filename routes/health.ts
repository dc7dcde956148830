import type { FastifyPluginAsync } from 'fastify';
import { ServiceUnavailableError } from '../src/errors.js';
import { sendError } from '../src/error-handler.js';

const health: FastifyPluginAsync = async (app) => {
  const { manager, readiness } = app.gateway;

  /** Liveness: the event loop answers. */
  app.get('/health', async () => ({ status: 'ok' }));

  /** Readiness: the CLI is installed and answers `--version`. */
  app.get('/ready', async (_request, reply) => {
    const h = await readiness();
    if (!h.ok) {
      const code = /not found/.test(h.reason ?? '') ? 'claude_not_found' : 'claude_unusable';
      return sendError(reply, new ServiceUnavailableError(h.reason ?? 'the Claude CLI is not usable', code));
    }
    return { status: 'ready', claude_version: h.version, running: manager.activeCount, queued: manager.queuedCount };
  });
};

export default health;
