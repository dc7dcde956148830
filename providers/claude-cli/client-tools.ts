import type { FunctionTool } from '../types.js';
import { CLIENT_SERVER } from './args.js';
import type { Json } from './json-line.js';
import type { ToolResult } from './render.js';

const rpcResult = (id: unknown, result: Json) => ({ jsonrpc: '2.0', id, result });

/**
 * The client's functions as an in-process ("sdk") MCP server, answered over the CLI's control
 * protocol. `tools/call` is parked until the client sends the result in its next request; a result
 * that arrives before its call (calls made one after another) waits for it.
 */
export class ClientToolBridge {
  /** tool_use id → the control request carrying its `tools/call`. */
  private readonly parked = new Map<string, { requestId: string; rpcId: unknown }>();
  private readonly early = new Map<string, string>();

  constructor(
    private readonly tools: readonly FunctionTool[],
    /** Calls announced as read-only arrive together; otherwise the CLI makes them one at a time. */
    private readonly parallel: boolean,
    private readonly respond: (requestId: string, mcpResponse: Json) => void,
  ) {}

  onMessage(requestId: string, message: Json): void {
    const id = message.id;
    switch (message.method) {
      case 'initialize':
        return this.respond(
          requestId,
          rpcResult(id, {
            protocolVersion: message.params?.protocolVersion ?? '2025-11-25',
            capabilities: { tools: {} },
            serverInfo: { name: CLIENT_SERVER, version: '1.0.0' },
          }),
        );
      case 'tools/list':
        return this.respond(
          requestId,
          rpcResult(id, {
            tools: this.tools.map((t) => ({
              name: t.name,
              description: t.description ?? '',
              inputSchema: t.parameters,
              annotations: { readOnlyHint: this.parallel },
            })),
          }),
        );
      case 'tools/call': {
        const toolUseId = String(message.params?._meta?.['claudecode/toolUseId'] ?? '');
        const early = this.early.get(toolUseId);
        this.early.delete(toolUseId);
        if (early !== undefined) return this.respond(requestId, rpcResult(id, { content: [{ type: 'text', text: early }], isError: false }));
        this.parked.set(toolUseId, { requestId, rpcId: id });
        return;
      }
      default:
        // Notifications (no id) are acknowledged; anything else is not a method this server has.
        if (id === undefined) return this.respond(requestId, { jsonrpc: '2.0', result: {}, id: 0 });
        return this.respond(requestId, { jsonrpc: '2.0', id, error: { code: -32601, message: `no method ${message.method}` } });
    }
  }

  /** Answers the parked calls these results are for; the others wait for their call. */
  answer(results: readonly ToolResult[]): void {
    for (const r of results) {
      const call = this.parked.get(r.toolCallId);
      if (!call) {
        this.early.set(r.toolCallId, r.content);
        continue;
      }
      this.parked.delete(r.toolCallId);
      this.respond(call.requestId, rpcResult(call.rpcId, { content: [{ type: 'text', text: r.content }], isError: false }));
    }
  }

  /** Forgets everything waiting (the run was interrupted). */
  reset(): void {
    this.parked.clear();
    this.early.clear();
  }
}
