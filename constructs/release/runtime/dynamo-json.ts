/**
 * Plain JSON to DynamoDB attribute values and back, for the release state item. Written here
 * rather than taken from `@aws-sdk/util-dynamodb` because the state holds only JSON (strings,
 * finite numbers, booleans, null, lists, maps) and the kit keeps its runtime dependencies to the
 * service clients.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { ReleaseInputError } from './errors';

/** A JSON value as the state holds it. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** The attribute value of a JSON value; throws on a number that is not finite (DynamoDB has no NaN). */
export function toAttribute(value: JsonValue, path = '$'): AttributeValue {
  if (value === null) return { NULL: true };
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'boolean':
      return { BOOL: value };
    case 'number':
      if (!Number.isFinite(value)) throw new ReleaseInputError(`${path} must be a finite number to be stored, but ${value} was provided`);
      return { N: String(value) };
    default:
      if (Array.isArray(value)) return { L: value.map((item, i) => toAttribute(item, `${path}[${i}]`)) };
      return { M: toAttributeMap(value as { readonly [key: string]: JsonValue }, path) };
  }
}

/** The attribute map of a JSON object; `undefined` members are left out, as JSON.stringify does. */
export function toAttributeMap(object: { readonly [key: string]: JsonValue | undefined }, path = '$'): Record<string, AttributeValue> {
  const map: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined) map[key] = toAttribute(value, `${path}.${key}`);
  }
  return map;
}

/** The JSON value of an attribute; throws on the types the state never writes (sets, binary). */
export function fromAttribute(attribute: AttributeValue, path = '$'): JsonValue {
  if (attribute.S !== undefined) return attribute.S;
  if (attribute.N !== undefined) return Number(attribute.N);
  if (attribute.BOOL !== undefined) return attribute.BOOL;
  if (attribute.NULL !== undefined) return null;
  if (attribute.L !== undefined) return attribute.L.map((item, i) => fromAttribute(item, `${path}[${i}]`));
  if (attribute.M !== undefined) return fromAttributeMap(attribute.M, path);
  throw new ReleaseInputError(`${path} holds a DynamoDB type the release state does not use (${Object.keys(attribute).join(', ')})`);
}

/** The JSON object of an attribute map. */
export function fromAttributeMap(map: Record<string, AttributeValue>, path = '$'): { [key: string]: JsonValue } {
  const object: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(map)) object[key] = fromAttribute(value, `${path}.${key}`);
  return object;
}
