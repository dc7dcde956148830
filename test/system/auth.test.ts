import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway, startGateway } from '../support/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ fake: true, env: { GATEWAY_API_KEYS: 'key-one,key-two' } });
});
afterAll(async () => {
  await gw?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${gw.url}${path}`, { headers });

describe('GATEWAY_API_KEYS', () => {
  it('needs a bearer key on every /v1 route', async () => {
    for (const p of ['/v1/models', '/v1/processes', '/v1/processes/proc_00000000000000000000000000000000']) {
      const missing = await get(p);
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as any).error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key' });
      const wrong = await get(p, { authorization: 'Bearer key-three' });
      expect(wrong.status).toBe(401);
      expect(((await wrong.json()) as any).error.code).toBe('invalid_api_key');
    }
    expect((await get('/v1/models', { authorization: 'Bearer key-two' })).status).toBe(200);
  });

  it('leaves /health, /ready and the docs open', async () => {
    for (const p of ['/health', '/ready', '/openapi.yaml']) expect((await get(p)).status).toBe(200);
  });

  it('lets the OpenAI SDK through with its key', async () => {
    const done = await gw.openai.chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'hi' }] });
    expect(done.choices[0]!.message.content).toBe('fake answer');
  });
});
