import { StatelessHttpProvider } from '../stateless-http-provider.js';
import type { ChatRequest, Provider, ProviderEvent, RunSession } from '../types.js';
import { UpstreamClient } from '../upstream-client.js';
import { prepareChatCompletion } from './request.js';
import { type OpenAICompatibleSettings, checkSettings } from './settings.js';
import { CompletionStream } from './stream.js';
import type { ChatCompletionsBody } from './wire.js';

export type { OpenAICompatibleSettings } from './settings.js';

/**
 * Any server that speaks OpenAI's chat completions API (vLLM, llama.cpp, Ollama, LiteLLM, OpenAI
 * itself), as `<name>/<model>`. Stateless (see StatelessHttpProvider): the core keeps the history of
 * its sessions and sends it whole.
 */
export class OpenAICompatibleProvider extends StatelessHttpProvider<ChatCompletionsBody> implements Provider<ChatCompletionsBody> {
  private readonly api: string;

  constructor(settings: OpenAICompatibleSettings) {
    checkSettings(settings);
    const api = `OpenAI-compatible API '${settings.name}'`;
    super(
      { name: settings.name, models: settings.models ?? [], ownedBy: settings.name },
      new UpstreamClient({
        baseUrl: settings.baseUrl,
        path: '/chat/completions',
        headers: { ...settings.headers, ...(settings.apiKey ? { authorization: `Bearer ${settings.apiKey}` } : {}) },
        api,
      }),
    );
    this.api = api;
  }

  prepare(request: ChatRequest): ChatCompletionsBody {
    return prepareChatCompletion(request);
  }

  async *run(prepared: ChatCompletionsBody, session: RunSession, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const completion = new CompletionStream(this.api);
    for await (const sse of this.client.events(prepared, signal)) yield* completion.push(sse);
    // No cost here: the core prices the upstream's models from its configuration.
    yield { type: 'result', result: completion.result(session.sessionId) };
  }
}
