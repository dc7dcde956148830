import type { z } from 'zod';
import { InvalidRequestError } from './core/errors.js';

/** `['messages', 0, 'content']` → `messages[0].content`, as OpenAI names fields in errors. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => {
    if (typeof key === 'number') return `${acc}[${key}]`;
    return acc ? `${acc}.${String(key)}` : String(key);
  }, '');
}

/** Parses with a zod schema; the first problem becomes a 400 that names the field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = fieldPath(issue.path);
  if (!param) throw new InvalidRequestError(`invalid ${what}: ${issue.message}`, null);
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  const message = missing ? `'${param}' is required` : `invalid value for '${param}': ${issue.message}`;
  throw new InvalidRequestError(message, param, missing ? 'missing_required_parameter' : 'invalid_value');
}
