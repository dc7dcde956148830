/** One OpenAI-compatible upstream, as the gateway's configuration declares it. */
export interface OpenAICompatibleSettings {
  /** The prefix clients use (`local` serves `local/<model>`), and the provider's name. */
  name: string;
  /** The API's base URL, path prefix included: `http://127.0.0.1:9000/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; none for a local server that wants none. */
  apiKey?: string;
  /** Models offered on `/v1/models` as `<name>/<model>`; any other name is passed on too. */
  models?: string[];
  /** Extra headers on every request (an organisation, a project, a proxy's own key). */
  headers?: Record<string, string>;
}

/** A name that works as a model prefix: no slash, no spaces. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Refuses settings no request could use, when the provider is made (at the gateway's start). */
export function checkSettings(settings: OpenAICompatibleSettings): void {
  if (!NAME.test(settings.name)) throw new Error(`openai-compatible provider name '${settings.name}' must match ${NAME}`);
  let url: URL;
  try {
    url = new URL(settings.baseUrl);
  } catch {
    throw new Error(`openai-compatible provider '${settings.name}': base URL is not a URL: ${settings.baseUrl}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`openai-compatible provider '${settings.name}': base URL must be http(s): ${settings.baseUrl}`);
  }
}
