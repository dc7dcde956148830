import type { ProviderEvent, ToolCall } from '../../providers/types.js';

/**
 * The answer the HTTP providers' stream tests stream, whatever their wire format: "Let me see.", then
 * a call of get_weather for Oslo whose arguments come in two fragments, then one of `now` without any.
 * What every provider makes of it: these events, and these calls in the result.
 */
export function weatherAnswer(ids: [string, string]): { events: ProviderEvent[]; toolCalls: ToolCall[] } {
  return {
    events: [
      { type: 'text', text: 'Let me see.' },
      { type: 'tool_call_start', index: 0, id: ids[0], name: 'get_weather' },
      { type: 'tool_call_delta', index: 0, arguments: '{"city":' },
      { type: 'tool_call_delta', index: 0, arguments: '"Oslo"}' },
      { type: 'tool_call_start', index: 1, id: ids[1], name: 'now' },
      { type: 'tool_call_delta', index: 1, arguments: '{}' },
    ],
    toolCalls: [
      { id: ids[0], name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { id: ids[1], name: 'now', arguments: '{}' },
    ],
  };
}
