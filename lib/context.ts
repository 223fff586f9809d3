/**
 * A yes/no context value: `true`/`false` (cdk.json) or the strings `"true"`/`"false"` (`-c key=true`),
 * or undefined when absent. Anything else is `invalid`, so that `-c destroyOnRemoval=maybe` is an
 * error instead of a silent false.
 */
export function parseFlag(value: unknown): boolean | undefined | 'invalid' {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return 'invalid';
}

/** Reads a list from context: a comma-separated string (`-c key=a,b`) or a JSON list (cdk.json). */
export function parseList(value: unknown): string[] {
  if (value === undefined || value === null || value === '') {
    return [];
  }
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((r) => r.trim()).filter((r) => r.length > 0);
}
