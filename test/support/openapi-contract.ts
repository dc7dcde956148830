/**
 * openapi.yaml as a test oracle, shared by the contract test and the spec-driven fuzzer:
 * openapi-backend's validators (Ajv) for requests, JSON answers and headers, plus what it leaves
 * out: YAML bodies and the events of a `text/event-stream` (the media type's `x-sse-data-schema`).
 */
import { readFileSync } from 'node:fs';
import { type Document, OpenAPIBackend, ValidationContext } from 'openapi-backend';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { openapiPath } from '../../src/paths.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Json = any; // answers are checked against the document, not typed here

/** One HTTP answer as the tests see it; `body` is parsed when it is JSON. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: Json;
}

export const specText = readFileSync(openapiPath, 'utf8');
export const doc = parse(specText) as Document & Record<string, any>;

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml']);

/** The `data:` payloads of a server-sent event stream, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      // A typed event (`event: <type>` then its data line, as the Responses and Messages APIs send them).
      const data = block.replace(/^event: [^\n]+\n/, '');
      expect(data.startsWith('data: '), `SSE event ${JSON.stringify(block)}`).toBe(true);
      return data.slice('data: '.length);
    });
}

export interface Contract {
  api: OpenAPIBackend;
  /** A validator of one of the document's component schemas. */
  componentValidator(name: string): (value: unknown) => { valid: boolean; errors: unknown };
  expectComponent(name: string, value: unknown): void;
  /**
   * The answer's status is documented for the operation, its content type too, and its body and
   * headers match the document. `strictCodes`: every error code is named in its status's description.
   */
  expectDocumented(operationId: string, res: Answer, opts?: { strictCodes?: boolean }): void;
}

export async function openContract(): Promise<Contract> {
  const api = new OpenAPIBackend({
    definition: structuredClone(doc),
    strict: true,
    // openapi-backend checks documents against the OpenAPI 3.0 meta-schema only; quick mode skips
    // that check (this is a 3.1 document) and the validators are compiled eagerly below instead.
    quick: true,
    customizeAjv: (ajv) => ajv.addFormat('uuid', UUID),
  });
  await api.init();
  api.validator.preCompileRequestValidators();
  api.validator.preCompileResponseValidators();
  api.validator.preCompileResponseHeaderValidators();
  const ajv = api.validator.getAjv(ValidationContext.Response);
  // The definition is dereferenced by init(): schemas can be compiled as they are.
  const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();
  const validator = (schema: object) => {
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(schema));
    const validate = compiled.get(schema)!;
    return (value: unknown) => (validate(value) ? { valid: true, errors: null } : { valid: false, errors: validate.errors });
  };
  const expectSchema = (schema: object, value: unknown, what: string) =>
    expect(validator(schema)(value).errors, `${what}: ${JSON.stringify(value)?.slice(0, 800)}`).toBeNull();
  const schemas = (api.definition as Json).components.schemas;

  const componentValidator = (name: string) => {
    expect(schemas[name], `component ${name}`).toBeDefined();
    return validator(schemas[name]);
  };

  const expectBody = (operationId: string, res: Answer, media: Json, mediaType: string) => {
    const what = `${operationId} ${res.status} ${mediaType}`;
    if (mediaType === 'application/json') {
      const result = api.validator.validateResponse(res.body, operationId, res.status);
      expect(result.errors, `${what} body ${res.text.slice(0, 800)}`).toBeNull();
    } else if (YAML_TYPES.has(mediaType)) {
      expectSchema(media.schema, parse(res.text), what);
    } else if (mediaType === 'text/event-stream') {
      expectSchema(media.schema, res.text, what);
      for (const data of sseData(res.text)) expectSchema(media['x-sse-data-schema'], data === '[DONE]' ? data : JSON.parse(data), `${what} event`);
    }
  };

  return {
    api,
    componentValidator,
    expectComponent(name, value) {
      expectSchema(schemas[name], value, name);
    },
    expectDocumented(operationId, res, { strictCodes = true } = {}) {
      const op = api.getOperation(operationId);
      expect(op, `operation ${operationId}`).toBeDefined();
      const documented = (op!.responses ?? {})[String(res.status)] as Json;
      expect(documented, `${operationId}: status ${res.status} is not documented`).toBeDefined();
      const mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (res.text !== '') {
        expect(Object.keys(documented.content ?? {}), `${operationId} ${res.status}`).toContain(mediaType);
        expectBody(operationId, res, documented.content[mediaType], mediaType);
      }
      const code = res.body?.error?.code;
      if (strictCodes && res.status >= 400 && typeof code === 'string') {
        expect(documented.description, `${operationId} ${res.status}: code ${code} is not described`).toContain(`\`${code}\``);
      }
      const headers = api.validator.validateResponseHeaders(res.headers, operationId, { statusCode: res.status });
      expect(headers.errors, `${operationId} ${res.status} headers ${JSON.stringify(res.headers)}`).toBeNull();
      for (const [name, header] of Object.entries(documented.headers ?? {})) {
        if ((header as Json).required) expect(res.headers[name.toLowerCase()], `${operationId} ${res.status}: header ${name}`).toBeDefined();
      }
    },
  };
}
