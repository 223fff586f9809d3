/**
 * Request body validation, compiled once per container from `config.request`. Error messages name
 * the field and what it allows, never the value sent: a 400 body must not reflect personal data
 * back into the caller's logs.
 */
import type { RequestField } from './contract';
import { parseJsonLossless } from '../../../lib/runtime/lossless-json';
import { isJsonObject } from './json';
import type { RequestValue } from './types';

/** A 4xx answer: the message is safe to return and to log. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly statusCode: 400 | 404 | 405 | 413,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_STRING_LENGTH = 256;
const DEFAULT_ARRAY_LENGTH = 1000;
// Elements of string[] fields are ids or tags; they share the default string limit.
const ARRAY_ELEMENT_LENGTH = DEFAULT_STRING_LENGTH;
// Unknown field names are caller input too: quote a few, shortened, so the error stays small.
const MAX_QUOTED_NAMES = 5;
const MAX_QUOTED_NAME_LENGTH = 40;

type FieldCheck = (value: unknown) => RequestValue | undefined;

export interface RequestSchema {
  readonly fields: ReadonlyMap<string, FieldCheck>;
  readonly required: readonly string[];
  readonly allowed: string;
}

/** Compiles `config.request` into per-field checks (one closure per field, built once). */
export function compileSchema(request: Readonly<Record<string, RequestField>>): RequestSchema {
  const fields = new Map<string, FieldCheck>();
  for (const [name, field] of Object.entries(request)) fields.set(name, fieldCheck(name, field));
  return {
    fields,
    required: Object.entries(request).filter(([, field]) => field.required === true).map(([name]) => name),
    allowed: [...fields.keys()].join(', '),
  };
}

function fieldCheck(name: string, field: RequestField): FieldCheck {
  const quoted = JSON.stringify(name);
  switch (field.type) {
    case 'string': {
      const max = field.maxLength ?? DEFAULT_STRING_LENGTH;
      const message = `field ${quoted} must be a string of at most ${max} characters`;
      return (value) => {
        if (typeof value !== 'string' || value.length > max) throw new ClientError(400, message);
        return value;
      };
    }
    case 'number': {
      const message = `field ${quoted} must be a finite number`;
      return (value) => {
        // bigint: an integer literal beyond 2^53, kept exact by the lossless parser.
        if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) return value;
        throw new ClientError(400, message);
      };
    }
    case 'boolean': {
      const message = `field ${quoted} must be true or false`;
      return (value) => {
        if (typeof value !== 'boolean') throw new ClientError(400, message);
        return value;
      };
    }
    case 'string[]': {
      const max = field.maxLength ?? DEFAULT_ARRAY_LENGTH;
      const message = `field ${quoted} must be an array of at most ${max} strings of at most ${ARRAY_ELEMENT_LENGTH} characters`;
      return (value) => {
        if (!Array.isArray(value) || value.length > max) throw new ClientError(400, message);
        for (const item of value) {
          if (typeof item !== 'string' || item.length > ARRAY_ELEMENT_LENGTH) throw new ClientError(400, message);
        }
        return value as string[];
      };
    }
    case 'number[]': {
      const max = field.maxLength ?? DEFAULT_ARRAY_LENGTH;
      const message = `field ${quoted} must be an array of at most ${max} finite numbers`;
      return (value) => {
        if (!Array.isArray(value) || value.length > max) throw new ClientError(400, message);
        for (const item of value) {
          if (typeof item !== 'bigint' && (typeof item !== 'number' || !Number.isFinite(item))) {
            throw new ClientError(400, message);
          }
        }
        return value as (number | bigint)[];
      };
    }
  }
}

/** Parses a body (a JSON object, integers beyond 2^53 exact) and checks its size. */
export function parseBody(body: string, maxBytes: number): Readonly<Record<string, unknown>> {
  // Length in UTF-16 units bounds the UTF-8 size from below (≤ 3 bytes per unit): most bodies
  // skip the byte count.
  if (body.length > maxBytes || (body.length * 3 > maxBytes && Buffer.byteLength(body, 'utf8') > maxBytes)) {
    throw new ClientError(413, `the request body must be at most ${maxBytes} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = parseJsonLossless(body);
  } catch {
    // Parser messages quote positions and input: never pass them on.
    throw new ClientError(400, 'the request body must be a JSON object');
  }
  if (!isJsonObject(parsed)) throw new ClientError(400, 'the request body must be a JSON object');
  return parsed;
}

/** Validates a parsed body against the schema; null counts as absent. */
export function validateRequest(body: Readonly<Record<string, unknown>>, schema: RequestSchema): Record<string, RequestValue> {
  const values: Record<string, RequestValue> = {};
  let unknown: string[] | undefined;
  for (const name of Object.keys(body)) {
    const check = schema.fields.get(name);
    if (check === undefined) {
      (unknown ??= []).push(name);
      continue;
    }
    const value = body[name];
    if (value === null || value === undefined) continue;
    const checked = check(value);
    if (checked !== undefined) values[name] = checked;
  }
  if (unknown) throw new ClientError(400, `unknown fields ${quoteNames(unknown)}; allowed: ${schema.allowed}`);
  for (const name of schema.required) {
    if (!Object.hasOwn(values, name)) throw new ClientError(400, `field ${JSON.stringify(name)} is required`);
  }
  return values;
}

export function quoteNames(names: readonly string[]): string {
  const quoted = names
    .slice(0, MAX_QUOTED_NAMES)
    .map((name) => JSON.stringify(name.length > MAX_QUOTED_NAME_LENGTH ? `${name.slice(0, MAX_QUOTED_NAME_LENGTH)}…` : name));
  const more = names.length > MAX_QUOTED_NAMES ? ` and ${names.length - MAX_QUOTED_NAMES} more` : '';
  return `${quoted.join(', ')}${more}`;
}
