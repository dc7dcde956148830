// Structured output (response_format) and request data on the CLI's command line, through the real
// CLI: the schema reaches the CLI in its initialize request, system prompts and permission rules in
// private files, so none of them shows in `ps`; the `$schema` dialects clients send are accepted; a
// schema the CLI refuses is a 400 naming it, with the CLI's own reason.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultClaudeBin } from '../../src/config.js';
import { type TestGateway, startGateway, tempDir, useMockGateway } from '../support/gateway.js';
import type { RecordedRequest } from '../support/mock-anthropic.js';
import { completion, fetchJson, processesMatching, sleep } from '../support/process-helpers.js';

const ctx = useMockGateway();

const post = (g: TestGateway, body: unknown) => fetchJson(`${g.url}/v1/chat/completions`, { body });
const jsonSchema = (schema: Record<string, unknown>) => ({ response_format: { type: 'json_schema', json_schema: { name: 'extract', schema } } });
const structuredInput = (req: RecordedRequest) => req.body.tools?.find((t: { name: string }) => t.name === 'StructuredOutput')?.input_schema;
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

describe('response_format schemas', () => {
  it.each([
    ['https://json-schema.org/draft/2020-12/schema'], // LangChain JS's default (zod 4)
    ['http://json-schema.org/draft-07/schema#'], // zod-to-json-schema
  ])("takes LangChain JS's structured-output request with $schema %s through the openai SDK", async ($schema) => {
    const schema = {
      $schema,
      type: 'object',
      properties: { name: { type: 'string', description: "the person's name" }, age: { type: 'number' } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const marker = `extract the person, ${$schema}`;
    ctx.mock.on(marker, { kind: 'tool_use', name: 'StructuredOutput', input: { name: 'Ann', age: 31 } });
    const res = await ctx.gw.openai.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: marker }],
      response_format: { type: 'json_schema', json_schema: { name: 'extract', strict: true, schema } },
    });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ name: 'Ann', age: 31 });
    const { $schema: _, ...sent } = schema;
    expect(structuredInput(ctx.mock.messageRequests().find((r) => r.lastUserText.includes(marker))!)).toEqual(sent);
  });

  it('answers 400 naming the schema for one the CLI refuses, with the reason the CLI itself gives, and runs nothing', async () => {
    const refused = [
      { type: 'object', properties: { a: { type: 'strin' } } },
      { type: 'object', required: 'a' },
      { type: 'array', prefixItems: [{ type: 'string' }] }, // 2020-12 only: draft-07 knows no such keyword
      { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } },
      { $schema: 'https://example.com/my-dialect', type: 'object' },
    ];
    const home = tempDir('cli-schema-');
    try {
      for (const schema of refused) {
        const before = ctx.mock.messageRequests().length;
        const res = await post(ctx.gw, completion('never sent', jsonSchema(schema)));
        expect(res.status, JSON.stringify(res.body)).toBe(400);
        expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'response_format.json_schema.schema', code: 'invalid_json_schema' });
        expect(ctx.mock.messageRequests().length).toBe(before);

        // The CLI refuses it too, for the same reason (here on its command line, where it says why).
        const cli = spawnSync(defaultClaudeBin(), ['-p', '--output-format=json', `--json-schema=${JSON.stringify(schema)}`], {
          input: 'x',
          encoding: 'utf8',
          timeout: 30_000,
          env: { PATH: process.env.PATH, HOME: home, CLAUDE_CONFIG_DIR: path.join(home, 'claude'), ANTHROPIC_API_KEY: 'sk-test', ANTHROPIC_BASE_URL: ctx.mock.url, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
        });
        expect(cli.status).toBe(1);
        const reason = /^Error: --json-schema is not a valid JSON Schema: (.+)$/m.exec(cli.stderr)?.[1];
        expect(reason, cli.stderr).toBeDefined();
        expect(res.body.error.message).toContain(reason);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('answers 400 too when the CLI drops a schema it was given (fake CLI)', async () => {
    const g = await startGateway({ fake: true });
    try {
      const ok = await post(g, completion('hello', jsonSchema({ type: 'object' })));
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body.choices[0].message.content)).toEqual({ answer: 'fake answer' });
      const dropped = await post(g, completion('FAKE_SCHEMA_REFUSED', jsonSchema({ type: 'object' })));
      expect(dropped.status).toBe(400);
      expect(dropped.body.error).toMatchObject({ param: 'response_format.json_schema.schema', code: 'invalid_json_schema' });
    } finally {
      await g.close();
    }
  });
});

describe('request data and the command line', () => {
  it('keeps the schema, the system prompt and permission rules out of every CLI argv', async () => {
    const secret = 'private_7f3a9c';
    // POOL_SIZE=0: a plain completion runs one-shot (`claude -p`); a structured one in a long-lived process.
    const g = await startGateway({ mock: ctx.mock, env: { ALLOWED_TOOLS: 'Bash', POOL_SIZE: '0' } });
    try {
      const data = {
        messages: [
          { role: 'system', content: `system prompt ${secret}` },
          { role: 'user', content: 'argv check' },
        ],
        allowed_tools: [`Bash(echo ${secret} *)`],
        disallowed_tools: [`Bash(rm ${secret} *)`],
      };
      ctx.mock.on('argv check', { text: 'slow answer', firstByteDelayMs: 1_500 });
      const oneShot = post(g, { model: 'sonnet', ...data });
      const seen = new Map<number, string>();
      for (const until = Date.now() + 1_200; Date.now() < until; await sleep(50)) {
        for (const pid of processesMatching(g.dir)) seen.set(pid, cmdline(pid));
      }
      expect((await oneShot).status).toBe(200);

      ctx.mock.on('argv structured', { kind: 'tool_use', name: 'StructuredOutput', input: { [secret]: 'x' } });
      const schema = { type: 'object', properties: { [secret]: { type: 'string', description: secret } } };
      const structured = await post(g, { model: 'sonnet', ...data, messages: [data.messages[0], { role: 'user', content: 'argv structured' }], ...jsonSchema(schema) });
      expect(structured.status).toBe(200);
      expect(JSON.parse(structured.body.choices[0].message.content)).toEqual({ [secret]: 'x' });
      // its long-lived process stays for the session: still there to look at
      for (const pid of processesMatching(g.dir)) seen.set(pid, cmdline(pid));

      const lines = [...seen.values()].filter(Boolean);
      expect(lines.some((l) => l.includes('--output-format=json'))).toBe(true);
      expect(lines.some((l) => l.includes('--input-format=stream-json') && l.includes(structured.body.session_id))).toBe(true);
      for (const line of lines) expect(line).not.toContain(secret);
      // what the CLI got all the same
      const upstream = ctx.mock.messageRequests().find((r) => r.lastUserText.includes('argv structured'))!;
      expect(structuredInput(upstream)).toEqual(schema);
      expect(JSON.stringify(upstream.body.system)).toContain(`system prompt ${secret}`);
    } finally {
      await g.close();
    }
  });
});
