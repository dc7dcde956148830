import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockAnthropic } from '../support/mock-anthropic.js';
import { RUN_SANDBOX_TESTS, type TestGateway, startGateway } from '../support/gateway.js';

const KEY = 'gw-secret-key-7f3a';
const UPSTREAM_KEY = 'sk-ant-upstream-credential-51c9';
let mock: MockUpstream;
let gw: TestGateway;

beforeAll(async () => {
  mock = await startMockAnthropic();
  gw = await startGateway({
    mock,
    env: { ALLOWED_TOOLS: 'Bash,Read', GATEWAY_API_KEYS: KEY },
    parentEnv: { GATEWAY_API_KEYS: KEY, SECRET_OF_THE_GATEWAY: 'do-not-leak', ANTHROPIC_API_KEY: UPSTREAM_KEY },
  });
});
afterAll(async () => {
  await gw?.close();
  await mock?.close();
});

async function post(body: Record<string, unknown>) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: 'sonnet', ...body }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const toolNames = (req: { body: any }) => (req.body.tools ?? []).map((t: any) => t.name);
const requestsFor = (marker: string) => {
  const all = mock.messageRequests();
  const first = all.findIndex((r) => r.lastUserText.includes(marker));
  return all.slice(first);
};

describe('Claude Code tools through the real CLI', () => {
  it('runs Bash when the request enables it within ALLOWED_TOOLS', async () => {
    const file = path.join(gw.config.workdir, 'made-by-bash');
    mock.on('please touch', { kind: 'tool_use', name: 'Bash', input: { command: `touch ${file}`, description: 'touch' } });
    const res = await post({
      messages: [{ role: 'user', content: 'please touch' }],
      tools: [{ type: 'function', function: { name: 'Bash', description: 'shell' } }],
    });
    expect(res.status).toBe(200);
    const [first, second] = requestsFor('please touch');
    expect(toolNames(first!)).toContain('Bash');
    expect(second!.body.messages.at(-1).content[0]).toMatchObject({ type: 'tool_result' });
    expect(existsSync(file)).toBe(true);
    expect(res.body.claude_metadata.permission_denials).toEqual([]);
  });

  it('gives the CLI no tools at all when none are requested', async () => {
    const file = path.join(gw.config.workdir, 'must-not-exist');
    mock.on('sneaky touch', { kind: 'tool_use', name: 'Bash', input: { command: `touch ${file}` } });
    const res = await post({ messages: [{ role: 'user', content: 'sneaky touch' }] });
    expect(res.status).toBe(200);
    const [first, second] = requestsFor('sneaky touch');
    expect(toolNames(first!)).toEqual([]);
    expect(second!.lastUserText).toMatch(/No such tool available/);
    expect(existsSync(file)).toBe(false);
  });

  it('treats tool_choice "none" as no tools', async () => {
    await post({
      messages: [{ role: 'user', content: 'choice none' }],
      tools: [{ type: 'function', function: { name: 'Bash' } }],
      tool_choice: 'none',
    });
    expect(toolNames(requestsFor('choice none')[0]!)).toEqual([]);
  });

  it('refuses a tool outside ALLOWED_TOOLS with a 400 naming it, before any CLI runs', async () => {
    const before = mock.messageRequests().length;
    const res = await post({
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'Write' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'tool_not_allowed', param: 'tools[0].function.name' });
    expect(res.body.error.message).toContain("'Write'");
    const rule = await post({ messages: [{ role: 'user', content: 'x' }], allowed_tools: ['WebFetch(domain:evil.com)'] });
    expect(rule.status).toBe(400);
    expect(rule.body.error).toMatchObject({ code: 'tool_not_allowed', param: 'allowed_tools[0]' });
    expect(mock.messageRequests().length).toBe(before);
  });

  it('honours permission rules: Bash(echo *) runs echo, a write is denied and reported', async () => {
    const file = path.join(gw.config.workdir, 'denied-file');
    mock.on('rule echo', { kind: 'tool_use', name: 'Bash', input: { command: 'echo RULE-OK' } });
    const ok = await post({ messages: [{ role: 'user', content: 'rule echo' }], allowed_tools: ['Bash(echo *)'] });
    expect(ok.status).toBe(200);
    expect(requestsFor('rule echo')[1]!.lastUserText).toContain('RULE-OK');

    mock.on('rule touch', { kind: 'tool_use', name: 'Bash', input: { command: `touch ${file}` } });
    const denied = await post({ messages: [{ role: 'user', content: 'rule touch' }], allowed_tools: ['Bash(echo *)'] });
    expect(denied.status).toBe(200);
    expect(existsSync(file)).toBe(false);
    expect(denied.body.claude_metadata.permission_denials).toEqual([
      expect.objectContaining({ tool_name: 'Bash', tool_input: expect.objectContaining({ command: `touch ${file}` }) }),
    ]);
    const log = readFileSync(path.join(gw.config.logDir, `${denied.body.session_id}.jsonl`), 'utf8');
    expect(log).toContain('permission_denials');
    expect(log).toContain(`touch ${file}`);
  });

  it('keeps disallowed_tools: Bash disabled even when requested', async () => {
    mock.on('disallowed run', { kind: 'tool_use', name: 'Bash', input: { command: 'echo SHOULD-NOT-RUN' } });
    const res = await post({
      messages: [{ role: 'user', content: 'disallowed run' }],
      tools: [{ type: 'function', function: { name: 'Bash' } }],
      disallowed_tools: ['Bash'],
    });
    expect(res.status).toBe(200);
    const [first, second] = requestsFor('disallowed run');
    expect(toolNames(first!)).not.toContain('Bash');
    expect(second!.lastUserText).not.toContain('SHOULD-NOT-RUN\n');
  });

  it('does not let gateway secrets reach a tool the CLI runs', async () => {
    mock.on('show env', { kind: 'tool_use', name: 'Bash', input: { command: 'env' } });
    const res = await post({ messages: [{ role: 'user', content: 'show env' }], allowed_tools: ['Bash(env)'] });
    expect(res.status).toBe(200);
    const toolOutput = requestsFor('show env')[1]!.lastUserText;
    expect(toolOutput).toContain('PATH=');
    expect(toolOutput).not.toContain(KEY);
    expect(toolOutput).not.toContain('do-not-leak');
    expect(toolOutput).not.toContain('GATEWAY_API_KEYS');
  });

  it.runIf(RUN_SANDBOX_TESTS)("keeps the upstream credential out of reach of the tools (the CLI's sandbox)", async () => {
    // What a prompt-injected model would try: the environment, the variable, and the CLI's own process's.
    const command = 'env; printenv ANTHROPIC_API_KEY; cat /proc/[0-9]*/environ | tr "\\0" "\\n" | grep ANTHROPIC_API_KEY; echo PROBE-DONE';
    mock.on('leak the key', { kind: 'tool_use', name: 'Bash', input: { command } });
    const res = await post({ messages: [{ role: 'user', content: 'leak the key' }], allowed_tools: ['Bash'] });
    expect(res.status).toBe(200);
    const [first, second] = requestsFor('leak the key');
    expect(first!.headers['x-api-key']).toBe(UPSTREAM_KEY); // the CLI itself has it
    const toolResult = second!.body.messages.at(-1).content.find((b: { type: string }) => b.type === 'tool_result');
    const output = JSON.stringify(toolResult.content);
    expect(output).toContain('PROBE-DONE'); // the command ran
    expect(output).toContain('PATH=');
    expect(output).not.toContain(UPSTREAM_KEY);
  });

  it('answers 503 tool_sandbox_unavailable when the sandbox cannot start (no bubblewrap on PATH)', async () => {
    const g = await startGateway({ mock, env: { ALLOWED_TOOLS: 'Bash', POOL_SIZE: '0', TOOL_SANDBOX: '1' }, parentEnv: { PATH: '/nonexistent' } });
    try {
      const res = await fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'no sandbox' }], tools: [{ type: 'function', function: { name: 'Bash' } }] }),
      });
      const body = (await res.json()) as any;
      expect(res.status).toBe(503);
      expect(body.error).toMatchObject({ code: 'tool_sandbox_unavailable', message: expect.stringContaining('TOOL_SANDBOX') });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await g.close();
    }
  });
});
