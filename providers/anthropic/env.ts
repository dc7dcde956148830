/** Where the provider reaches the Messages API, and with which credential. */
export interface AnthropicSettings {
  baseUrl: string;
  /** Sent as `x-api-key`. */
  apiKey?: string;
  /** Sent as `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN), when there is no API key. */
  authToken?: string;
  /** The prefix clients use (`<name>/<model>`); default `anthropic`. More instances come from GATEWAY_CONFIG. */
  name?: string;
  /** Models offered on `/v1/models`; default: the built-in list. */
  models?: string[];
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

const DEFAULT_BASE_URL = 'https://api.anthropic.com';

/**
 * The provider's settings from the gateway's environment, or undefined when it has no credential
 * (the provider is then absent). A base URL that is not http(s) fails the start.
 */
export function anthropicSettings(env: NodeJS.ProcessEnv): AnthropicSettings | undefined {
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || undefined;
  const authToken = env.ANTHROPIC_AUTH_TOKEN?.trim() || undefined;
  if (!apiKey && !authToken) return undefined;
  const baseUrl = env.ANTHROPIC_BASE_URL?.trim() || DEFAULT_BASE_URL;
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`ANTHROPIC_BASE_URL is not a URL: ${baseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`ANTHROPIC_BASE_URL must be http(s): ${baseUrl}`);
  return { baseUrl, apiKey, authToken };
}
