import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../src/core/errors.js';
import { toProcessObject } from '../src/openai/records.js';
import { type Principal, visibleTo } from '../src/core/ownership.js';
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
  const { manager } = app.gateway;

  const notFound = (id: string) => new NotFoundError(`process '${id}' does not exist`, 'id', 'process_not_found');
  /** Another key's process is as unknown as one that does not exist. */
  const visibleRecord = (id: string, viewer: Principal) => {
    const record = manager.get(id);
    if (!record || !visibleTo(viewer, record.key_id)) throw notFound(id);
    return record;
  };

  app.get('/v1/processes', async (request) => {
    const q = parseWith(listQuery, request.query, 'query string');
    const { data, has_more } = manager.list({ ...q, viewer: request.principal });
    return { object: 'list', data: data.map(toProcessObject), has_more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  });

  app.get('/v1/processes/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    return toProcessObject(visibleRecord(id, request.principal));
  });

  app.delete('/v1/processes/:id', async (request) => {
    const { id } = parseWith(idParams, request.params);
    visibleRecord(id, request.principal);
    const record = await manager.cancel(id, 'deleted');
    if (!record) throw notFound(id);
    return toProcessObject(record);
  });
};

export default processes;
