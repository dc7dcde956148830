import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { toListPage, toSessionObject } from '../src/openai/records.js';
import { parseWith } from '../src/validation.js';

// Session ids name files (the CLI's transcript, the gateway's log): anything but a UUID is a 400.
const sessionId = z.uuid({ message: 'must be a UUID' });
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  after: sessionId.optional(),
});
const idParams = z.object({ id: sessionId });
const deleteQuery = z.object({ purge: z.enum(['true', 'false']).default('false') });

const sessions: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.get('/v1/sessions', async (request) => {
    const q = parseWith(listQuery, request.query, 'query string');
    return toListPage(await gateway.listSessions(q, request.principal), toSessionObject);
  });

  app.get('/v1/sessions/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    const session = await gateway.getSession(id, request.principal);
    return { ...toSessionObject(session), processes: session.processes };
  });

  app.delete('/v1/sessions/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    const { purge } = parseWith(deleteQuery, request.query, 'query string');
    const session = await gateway.deleteSession(id, request.principal, { purge: purge === 'true' });
    return { ...toSessionObject(session), processes: session.processes, deleted: true };
  });
};

export default sessions;
