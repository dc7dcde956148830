import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../core/errors.js';
import { fieldPath } from '../validation.js';

/**
 * How deeply objects and arrays may nest in a JSON body (the body itself is level 1). Real JSON
 * Schemas in `tools` and `response_format` stay far below it; far deeper input would overflow the
 * stack of whatever walks it recursively later (zod, JSON.stringify in the logs and CLI arguments).
 */
export const MAX_JSON_DEPTH = 64;
/** A `param` naming a path this long or longer is cut at a segment boundary. */
const MAX_PARAM_CHARS = 120;

interface Frame {
  value: object;
  depth: number;
  key: PropertyKey;
  parent?: Frame;
}

function pathOf(frame: Frame): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) path.push(f.key);
  return path.reverse();
}

/**
 * The path to the first object or array nested deeper than `limit`, or undefined. Iterative (an
 * explicit stack), so it cannot itself overflow, and it stops at the first container too deep.
 */
export function tooDeep(root: unknown, limit = MAX_JSON_DEPTH): PropertyKey[] | undefined {
  if (typeof root !== 'object' || root === null) return undefined;
  const stack: Frame[] = [{ value: root, depth: 1, key: '' }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    if (frame.depth > limit) return pathOf(frame);
    const entries = Array.isArray(frame.value) ? frame.value.entries() : Object.entries(frame.value);
    for (const [key, child] of entries) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, key, parent: frame });
    }
  }
  return undefined;
}

/** `fieldPath`, cut at a segment boundary (or mid-key, for one huge key) when it gets long. */
export function shortFieldPath(path: readonly PropertyKey[]): string {
  const full = fieldPath(path);
  if (full.length <= MAX_PARAM_CHARS) return full;
  let shown = path.slice(0, -1);
  while (shown.length && fieldPath(shown).length > MAX_PARAM_CHARS) shown = shown.slice(0, -1);
  return `${shown.length ? fieldPath(shown) : full.slice(0, MAX_PARAM_CHARS)}...`;
}

/**
 * Bounds nesting at the edge: every parsed JSON body is checked before validation or anything else
 * walks it. Query strings need no check: Fastify's parser keeps `a[b][c]=1` a flat key.
 */
export function registerNestingLimit(app: FastifyInstance, limit = MAX_JSON_DEPTH): void {
  app.addHook('preValidation', async (request) => {
    const path = tooDeep(request.body, limit);
    if (!path) return;
    const param = shortFieldPath(path);
    throw new InvalidRequestError(`'${param}' is nested too deeply: JSON in a request may nest at most ${limit} levels`, param, 'nesting_too_deep');
  });
}
