import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** Two OpenAI-compatible providers, `local` and `local2`, at the mocks' URLs; their keys in LOCAL_KEY and LOCAL2_KEY. */
export const localProviders = (a: { url: string }, b: { url: string }) => ({
  local: { type: 'openai-compatible', base_url: a.url, api_key_env: 'LOCAL_KEY' },
  local2: { type: 'openai-compatible', base_url: b.url, api_key_env: 'LOCAL2_KEY' },
});

/** Writes a GATEWAY_CONFIG file (JSON, which the YAML reader takes) in `dir`; returns its path. */
export function writeGatewayConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}
