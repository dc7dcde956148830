import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../src/core/errors.js';
import { projectRoot } from '../src/paths.js';

const DIR = path.join(projectRoot, 'public', 'dashboard');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Only the gateway's own files, no inline script: data from the API can never run as code. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The live dashboard (`GET /`, its files under `/dashboard/`): static, served from memory, open like
 * /health; what it shows comes from the public API with the key its user enters.
 */
const dashboard: FastifyPluginAsync = async (app) => {
  const files = new Map(readdirSync(DIR).map((name) => [name, readFileSync(path.join(DIR, name))]));
  const send = (name: string) => {
    const body = files.get(name);
    if (!body || !Object.hasOwn(TYPES, path.extname(name))) throw new NotFoundError(`no dashboard file '${name}'`, null, 'not_found');
    return { body, type: TYPES[path.extname(name)]! };
  };
  const headers = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  app.get('/', { config: { public: true } }, async (_request, reply) => {
    const { body, type } = send('index.html');
    return reply.headers(headers).type(type).send(body);
  });
  app.get('/dashboard/:file', { config: { public: true } }, async (request, reply) => {
    const { body, type } = send((request.params as { file: string }).file);
    return reply.headers(headers).type(type).send(body);
  });
};

export default dashboard;
