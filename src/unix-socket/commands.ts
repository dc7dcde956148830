import { knownError } from '../core/errors.js';
import type { Principal } from '../core/ownership.js';
import type { GatewayEvent } from '../core/process-types.js';
import type { Gateway, Job } from '../gateway.js';
import { toProcessObject } from '../openai/records.js';
import { toCompletionJob } from '../openai/request.js';
import type { ChatCompletionRequest } from '../openai/schemas.js';
import {
  PROTOCOL_VERSION,
  type SpawnParameters,
  asyncSpawnResult,
  getProcessesParametersSchema,
  parseParameters,
  spawnParametersSchema,
  spawnResult,
} from './protocol.js';

/** Agent ids remembered at most; an older one is read from its process record (Job.meta) instead. */
const REMEMBERED_AGENTS = 10_000;

/**
 * The agent id each process was spawned with (SPAWN's `agent_id`, kept on the record as
 * `meta.agent_id`): remembered when the socket spawns it, so that its events are tagged without a
 * read; a process spawned before that (an event published while SPAWN was still submitting, or one
 * spawned by an earlier run of the gateway) is looked up on its record.
 */
export class AgentIds {
  private readonly known = new Map<string, string | null>();

  remember(processId: string, agentId: string | null): void {
    this.known.set(processId, agentId);
    // Oldest first: a Map iterates in insertion order.
    if (this.known.size > REMEMBERED_AGENTS) this.known.delete(this.known.keys().next().value!);
  }

  /** The agent id of an event's process; null when it has none (or its record is gone). */
  async of(event: GatewayEvent, gateway: Gateway, principal: Principal): Promise<string | null> {
    const known = this.known.get(event.process_id);
    if (known !== undefined) return known;
    try {
      const agentId = (await gateway.get(event.process_id, principal)).meta?.agent_id;
      return typeof agentId === 'string' ? agentId : null;
    } catch {
      return null;
    }
  }
}

/** What the commands read: the gateway, the tool cap SPAWN's `enable_tools` turns on, the agent ids. */
/** What the socket tells the metrics (src/metrics/ implements it): its processes and subscribers are counted as `socket`'s. */
export interface SocketMetrics {
  withFrontDoor<T>(frontDoor: string, fn: () => T): T;
  eventSubscriber(frontDoor: string): () => void;
}

export interface CommandDeps {
  gateway: Gateway;
  metrics?: SocketMetrics;
  /** ALLOWED_TOOLS: all of them enabled (and pre-approved) by `enable_tools: true`. */
  allowedTools: readonly string[];
  agents: AgentIds;
}

/** SPAWN's parameters as the OpenAI front door's request, mapped the same way: one user message. */
export function spawnJob(p: SpawnParameters, deps: CommandDeps): Job {
  const body: ChatCompletionRequest = {
    model: p.model,
    messages: [{ role: 'user', content: p.prompt }],
    ...(p.session_id ? { session_id: p.session_id } : {}),
    ...(p.enable_tools && deps.allowedTools.length ? { allowed_tools: [...deps.allowedTools] } : {}),
  };
  const job = toCompletionJob(body, { resolveModel: (name) => deps.gateway.resolveModel(name) });
  return p.agent_id ? { ...job, meta: { agent_id: p.agent_id } } : job;
}

/**
 * SPAWN: sync answers with the CLI's result once the run is done (cancelled when `signal`, the
 * client's connection, goes first); async answers once the process is queued. A refusal or a failed
 * run throws its GatewayError.
 */
export async function spawn(parameters: Record<string, unknown>, deps: CommandDeps, principal: Principal, signal: AbortSignal) {
  const p = parseParameters(spawnParametersSchema, parameters);
  const job = spawnJob(p, deps);
  const sync = p.mode === 'sync';
  // An async process outlives its connection, and is never answered from the cache (like `background`).
  const submit = () => deps.gateway.submit(job, sync ? { principal, signal } : { principal, cache: false });
  const handle = await (deps.metrics ? deps.metrics.withFrontDoor('socket', submit) : submit());
  deps.agents.remember(handle.id, p.agent_id ?? null);
  if (!sync) return asyncSpawnResult(handle.id);
  const { result, error } = await handle.done;
  if (error) throw error;
  return spawnResult(result!, handle.record().cost_usd);
}

/** GET_PROCESSES: the newest processes the principal may see, each as `/v1/processes` shows it. */
export async function getProcesses(parameters: Record<string, unknown>, gateway: Gateway, principal: Principal) {
  const query = parseParameters(getProcessesParametersSchema, parameters);
  const { data } = await gateway.list(query, principal);
  return { processes: data.map(toProcessObject) };
}

/** HEALTH_CHECK: always an answer; `unhealthy` with the reason when a provider is not usable or the gateway is closing. */
export async function healthCheck(gateway: Gateway) {
  const { running, queued, pool, lastSeq } = gateway.stats();
  const counts = { running, queued, ...(pool ? { pool } : {}), last_seq: lastSeq };
  if (gateway.closing) return { status: 'unhealthy', reason: 'the gateway is shutting down', protocol_version: PROTOCOL_VERSION, ...counts };
  try {
    const providers = await gateway.ready();
    return { status: 'healthy', protocol_version: PROTOCOL_VERSION, claude_version: providers['claude-cli']?.version ?? null, providers, ...counts };
  } catch (err) {
    const reason = knownError(err)?.message ?? 'the readiness check failed';
    return { status: 'unhealthy', reason, protocol_version: PROTOCOL_VERSION, ...counts };
  }
}
