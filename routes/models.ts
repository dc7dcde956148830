import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../src/core/errors.js';

const models: FastifyPluginAsync = async (app) => {
  const { gateway } = app;
  const created = Math.floor(Date.now() / 1000);
  const toModel = (id: string, ownedBy: string) => ({ id, object: 'model' as const, created, owned_by: ownedBy });

  app.get('/v1/models', async () => ({
    object: 'list',
    data: gateway.models().map((m) => toModel(m.id, m.ownedBy)),
  }));

  // Model ids contain a slash (`claude-cli/sonnet`), hence the wildcard.
  app.get('/v1/models/*', async (request) => {
    const id = (request.params as { '*': string })['*'];
    if (!gateway.resolveModel(id)) throw new NotFoundError(`the model '${id}' does not exist`, 'model', 'model_not_found');
    // A listed model says who owns it; one served but not listed (any `anthropic/<model>`), its provider.
    return toModel(id, gateway.models().find((m) => m.id === id)?.ownedBy ?? gateway.ownerOf(id));
  });
};

export default models;
