import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { usageDimensionSchema } from '../src/core/usage-report.js';
import { parseWith } from '../src/validation.js';

// Digits only, as `since` on /v1/events: an empty `from=` is not 0.
const unixSeconds = z.string().regex(/^\d+$/, 'must be a whole number of Unix seconds').transform(Number).optional();
const usageQuery = z.object({
  group_by: z
    .string()
    .regex(/^(key|model|day)(,(key|model|day))*$/, 'must be a comma-separated list of key, model, day')
    .transform((s) => s.split(','))
    .pipe(z.array(usageDimensionSchema))
    .optional(),
  from: unixSeconds,
  to: unixSeconds,
  key_id: z.string().min(1).optional(),
});

const usage: FastifyPluginAsync = async (app) => {
  const { gateway } = app;

  app.get('/v1/usage', async (request) => {
    const { group_by, ...query } = parseWith(usageQuery, request.query, 'query string');
    return { object: 'list' as const, data: await gateway.usage({ ...query, groupBy: group_by ?? [] }, request.principal) };
  });
};

export default usage;
