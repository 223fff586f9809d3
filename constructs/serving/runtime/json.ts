/**
 * JSON helpers for request values parsed by parseJsonLossless: integers beyond 2^53 arrive as
 * bigint, which JSON.stringify refuses. Model bodies and log lines must carry their exact digits.
 */

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON.stringify that writes a bigint as its exact integer literal. Values with a bigint are
 * small (one request, one log line) and go through a plain recursion: a replacer with sentinel
 * strings could be imitated by a caller's own string.
 */
export function toJson(value: unknown): string {
  // Most values hold no bigint: the native serializer is faster and allocates less.
  return containsBigint(value) ? toJsonSlow(value) : (JSON.stringify(value) ?? 'null');
}

function containsBigint(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (containsBigint(item)) return true;
    return false;
  }
  for (const name in value) if (containsBigint((value as JsonObject)[name])) return true;
  return false;
}

function toJsonSlow(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        // JSON.stringify writes undefined array elements as null; so does this.
        return `[${value.map((item) => (item === undefined ? 'null' : toJsonSlow(item))).join(',')}]`;
      }
      const members: string[] = [];
      for (const [name, member] of Object.entries(value)) {
        if (member === undefined || typeof member === 'function') continue;
        members.push(`${JSON.stringify(name)}:${toJsonSlow(member)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      // Strings, finite numbers, booleans; NaN and Infinity become null as in JSON.stringify.
      return JSON.stringify(value) ?? 'null';
  }
}

/** The error's class name: safe to log, unlike its message, which may quote input or answers. */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
