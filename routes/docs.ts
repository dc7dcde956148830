import { readFile } from 'node:fs/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { markPublic } from '../src/http/auth.js';
import { openapiPath, projectRoot } from '../src/paths.js';

/** The contract as a file (`/openapi.yaml`) and as interactive docs (`/docs`). */
const docs: FastifyPluginAsync = async (app) => {
  const spec = await readFile(openapiPath, 'utf8');
  await app.register(swagger, { mode: 'static', specification: { path: openapiPath, baseDir: projectRoot } });
  // The contract is public: everything swagger-ui serves is open, in a scope of its own.
  await app.register(async (open) => {
    open.addHook('onRoute', markPublic);
    await open.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.yaml', { config: { public: true } }, async (_request, reply) =>
    reply.type('application/yaml; charset=utf-8').send(spec),
  );
};

export default fp(docs, { name: 'docs' });
