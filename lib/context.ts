/** Reads a list from context: a comma-separated string (`-c key=a,b`) or a JSON list (cdk.json). */
export function parseList(value: unknown): string[] {
  if (value === undefined || value === null || value === '') {
    return [];
  }
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((r) => r.trim()).filter((r) => r.length > 0);
}
