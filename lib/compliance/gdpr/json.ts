import { Json } from './template';

/** Whether a value is a JSON object (not a list, not null). */
export function isObject(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
