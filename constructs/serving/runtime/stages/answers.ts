/**
 * Reading model and table answers. Shapes accepted are those of SageMaker's common serving
 * containers: a JSON list (one element per instance) or `{"predictions": [...]}`.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isJsonObject } from '../json';
import { InvalidAnswerError } from './context';

const UTF8 = new TextDecoder('utf-8');

export function decodeJsonBody(body: Uint8Array | undefined): unknown {
  if (body === undefined) throw new InvalidAnswerError('no body');
  try {
    return JSON.parse(UTF8.decode(body));
  } catch {
    throw new InvalidAnswerError('not JSON');
  }
}

/** The per-instance list of an answer: the list itself or its `predictions`. */
export function instancesOf(answer: unknown): readonly unknown[] | undefined {
  if (Array.isArray(answer)) return answer;
  if (isJsonObject(answer) && Array.isArray(answer.predictions)) return answer.predictions;
  return undefined;
}

/** The answer object holding `field`: the answer itself, or its first instance. */
export function firstInstanceField(answer: unknown, field: string): unknown {
  if (isJsonObject(answer) && Object.hasOwn(answer, field)) return answer[field];
  const first = instancesOf(answer)?.[0];
  return isJsonObject(first) && Object.hasOwn(first, field) ? first[field] : undefined;
}

/** A query vector: a non-empty list of finite numbers, else undefined. */
export function toVector(value: unknown): number[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  for (const item of value) if (typeof item !== 'number' || !Number.isFinite(item)) return undefined;
  return value as number[];
}

/** A DynamoDB attribute holding a list (L of N/S) or a JSON string of one; elements as given. */
/**
 * The top-level attribute a `name` or `name.field…` path starts from (what GetItem projects), and
 * the value the path leads to: the load_predictions loader stores a JSON answer as a map, so an
 * embedding answer `{"embedding": [...]}` is `prediction.embedding`.
 */
export function attributeRoot(path: string): string {
  return path.split('.')[0];
}

export function attributeAt(item: Record<string, AttributeValue> | undefined, path: string): AttributeValue | undefined {
  const [root, ...fields] = path.split('.');
  let value: AttributeValue | undefined = item?.[root];
  for (const field of fields) {
    if (value?.M !== undefined) {
      value = value.M[field];
    } else if (value?.S !== undefined) {
      // A JSON string holding an object (older loaders): read the field from it.
      try {
        const parsed: unknown = JSON.parse(value.S);
        const inner = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>)[field] : undefined;
        value = inner === undefined ? undefined : { S: JSON.stringify(inner) };
      } catch {
        return undefined;
      }
    } else {
      return undefined;
    }
  }
  return value;
}

export function attributeList(attribute: AttributeValue | undefined): unknown[] | undefined {
  if (attribute === undefined) return undefined;
  if (attribute.L !== undefined) {
    return attribute.L.map((item) => (item.N !== undefined ? Number(item.N) : item.S !== undefined ? item.S : undefined));
  }
  if (attribute.S !== undefined) {
    try {
      const parsed: unknown = JSON.parse(attribute.S);
      return Array.isArray(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A request or source value as a DynamoDB key attribute. */
export function keyAttribute(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' && Number.isFinite(value)) return { N: String(value) };
  if (typeof value === 'bigint') return { N: value.toString() };
  return undefined;
}
