/**
 * One object of the CLI's JSON output, read loosely: the CLI adds fields from version to version,
 * so each one is checked where it is used rather than by a schema of the whole line.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: fields are checked at use
export type Json = Record<string, any>;

/** The JSON object on a line of output, or undefined for anything else (noise, a bare value, a torn line). */
export function parseJsonLine(line: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}
