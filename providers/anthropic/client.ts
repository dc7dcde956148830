import { UpstreamClient } from '../upstream-client.js';
import type { AnthropicSettings } from './env.js';
import { ANTHROPIC_API } from './errors.js';

export const ANTHROPIC_VERSION = '2023-06-01';

/** The Messages API endpoint of the base URL, with the provider's credential. */
export function messagesClient(settings: AnthropicSettings): UpstreamClient {
  const auth: Record<string, string> = settings.apiKey
    ? { 'x-api-key': settings.apiKey }
    : settings.authToken
      ? { authorization: `Bearer ${settings.authToken}` }
      : {};
  return new UpstreamClient({
    baseUrl: settings.baseUrl,
    path: '/v1/messages',
    headers: { ...settings.headers, ...auth, 'anthropic-version': ANTHROPIC_VERSION },
    api: ANTHROPIC_API,
  });
}
