import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { toListPage, toProcessObject } from '../src/openai/records.js';
import { PROCESS_ID, processStatusSchema } from '../src/core/process-types.js';
import { parseWith } from '../src/validation.js';

const listQuery = z.object({
  status: processStatusSchema.optional(),
  session_id: z.uuid({ message: 'must be a UUID' }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  after: z.string().regex(PROCESS_ID, 'must be a process id').optional(),
});
const idParams = z.object({ id: z.string() });

const processes: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.get('/v1/processes', async (request) => {
    const q = parseWith(listQuery, request.query, 'query string');
    return toListPage(await gateway.list(q, request.principal), toProcessObject);
  });

  app.get('/v1/processes/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    return toProcessObject(await gateway.get(id, request.principal));
  });

  app.delete('/v1/processes/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    return toProcessObject(await gateway.cancel(id, request.principal));
  });
};

export default processes;
