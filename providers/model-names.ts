/** Printable, no spaces, bounded: a model name goes into the upstream request as it is. */
const MODEL_NAME = /^[\x21-\x7e]{1,200}$/;

/**
 * `<prefix><model>` → `<model>`, for providers that pass any model name on and let their upstream
 * decide whether it exists; undefined for another prefix or a name that cannot be one.
 */
export function modelAfterPrefix(requested: string, prefix: string): string | undefined {
  if (!requested.startsWith(prefix)) return undefined;
  const name = requested.slice(prefix.length);
  return MODEL_NAME.test(name) ? name : undefined;
}
