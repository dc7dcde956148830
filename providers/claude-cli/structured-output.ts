import { Ajv } from 'ajv';
import { ProviderError } from '../types.js';

const PARAM = 'response_format.json_schema.schema';

/** The tool through which the CLI takes structured output; a run that lacks it has no schema. */
export const STRUCTURED_OUTPUT_TOOL = 'StructuredOutput';

/** A top-level `$schema` naming one of json-schema.org's dialects. */
const DIALECT = /^https?:\/\/json-schema\.org\//;

export function schemaRefused(reason: string): ProviderError {
  return new ProviderError(
    'invalid_request',
    `response_format: the Claude CLI refuses this JSON Schema (it takes draft-07, strict about unknown keywords): ${reason}`,
    { param: PARAM, code: 'invalid_json_schema' },
  );
}

/**
 * Structured-output schemas as the CLI takes them. The CLI checks a schema with Ajv (draft-07, strict,
 * all errors, formats not validated) and refuses one that fails, with Ajv's message; the same check
 * here refuses such a schema before any process runs, with the same message. The schema comes
 * from the client: it is bounded by the request schema (size, nesting), Ajv 8 generates its code
 * without injection from schema values, and nothing here validates data with it.
 */
export class StructuredOutputSchemas {
  private readonly ajv = new Ajv({ allErrors: true, validateFormats: false, multipleOfPrecision: 6, logger: false });

  /**
   * The schema to send: a top-level `$schema` naming a json-schema.org dialect is dropped (LangChain
   * JS sends 2020-12's, which the CLI's validator does not know, and refuses the whole schema for;
   * the keywords such clients use read the same in draft-07). Throws for one it would refuse.
   */
  prepareJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
    const { $schema, ...rest } = schema;
    const prepared = typeof $schema === 'string' && DIALECT.test($schema) ? rest : schema;
    const reason = this.refusal(prepared);
    if (reason) throw schemaRefused(reason);
    return prepared;
  }

  private refusal(schema: Record<string, unknown>): string | undefined {
    if (schema.$async) return '$async schemas are not supported';
    try {
      if (!this.ajv.validateSchema(schema)) return this.ajv.errorsText(this.ajv.errors);
      this.ajv.compile(schema);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    } finally {
      // Nothing is kept between requests (a schema's `$id` would clash with the next one's).
      this.ajv.removeSchema(schema);
    }
  }
}
