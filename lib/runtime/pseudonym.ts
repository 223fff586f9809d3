/**
 * Keyed pseudonyms, byte-for-byte compatible with the data lake's Python anonymizer
 * (constructs/data-lake/runtime/anonymize.py, PSEUDONYMS), so that every ML-side store is keyed by
 * the same pseudonym for the same person:
 *
 *   pseudonym = lowercase hex of HMAC-SHA256(key = UTF-8(key string), message = UTF-8(canonical(value)))
 *
 * The shared vectors (constructs/data-lake/runtime/pseudonym_vectors.json) are checked by
 * stream-ingest.test.ts.
 */
import { createHmac } from 'node:crypto';

/**
 * bigint carries integers beyond 2^53 exactly. A JS number cannot: JSON.parse rounds the literal
 * 9007199254740993 to 9007199254740992, whose pseudonym differs from Python's. Parse JSON with
 * parseJsonLossless (lossless-json.ts) before pseudonymizing numbers.
 */
export type PseudonymInput = string | number | bigint | boolean;

/** Thrown for inputs that have no pseudonym. Messages never contain the value or the key. */
export class PseudonymInputError extends Error {
  override readonly name = 'PseudonymInputError';
}

/**
 * What a pseudonym looks like: 64 lower-case hex digits. Erasers check it before they search: an
 * upper-case one would match nothing in the stores and pass as erased, and a pattern character
 * could match others' data.
 */
export const PSEUDONYM_PATTERN = /^[0-9a-f]{64}$/;

// A lone UTF-16 surrogate has no UTF-8 encoding: Node would silently substitute U+FFFD, so distinct
// inputs would collide, where Python's str.encode('utf-8') raises. Refuse it like Python does.
const LONE_SURROGATE = /\p{Cs}/u;

export function pseudonymize(key: string, value: PseudonymInput): string {
  // Python refuses an empty key too: it would make every pseudonym guessable.
  if (key === '') throw new PseudonymInputError('the pseudonymization key is empty');
  const message = canonicalString(value);
  assertEncodable(key, 'key');
  assertEncodable(message, 'value');
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('hex');
}

/** The string a value is hashed as; the Python anonymizer's canonical_string. */
export function canonicalString(value: PseudonymInput): string {
  switch (typeof value) {
    case 'string':
      return value; // unchanged: no trimming, case folding or normalization
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      return canonicalNumber(value);
    default:
      // Unreachable for typed callers; guards casts and plain JavaScript callers.
      throw new PseudonymInputError(`cannot pseudonymize a value of type ${typeof value}`);
  }
}

function canonicalNumber(value: number): string {
  if (!Number.isFinite(value)) {
    throw new PseudonymInputError('NaN and Infinity cannot be pseudonymized');
  }
  // Integral numbers are the exact integer they equal, so 42, 42.0 and "42" share a pseudonym and
  // 1e21 is "1000000000000000000000" (String() would say "1e+21"); -0 is "0". Other numbers use
  // ECMAScript's shortest round-trip form, which the Python side reimplements.
  return Number.isInteger(value) ? BigInt(value).toString() : String(value);
}

function assertEncodable(text: string, what: 'key' | 'value'): void {
  if (LONE_SURROGATE.test(text)) {
    throw new PseudonymInputError(`the ${what} contains a lone UTF-16 surrogate, which has no UTF-8 encoding`);
  }
}

/** Thrown for a pseudonymization key secret that holds no usable key. Messages never include the secret. */
export class KeySecretError extends Error {
  override readonly name = 'KeySecretError';
}

/**
 * The key from a SecretString, read exactly as the Python anonymizer's load_key_from_secret reads
 * it (or the two would disagree on every pseudonym): if the string parses as a JSON object, its
 * "key" member, which must be a string; otherwise the whole string, verbatim (no trimming). An
 * empty key is an error.
 */
export function parseKeySecret(secretString: string): string {
  let document: unknown;
  try {
    document = JSON.parse(secretString);
  } catch {
    document = undefined;
  }
  const isObject = typeof document === 'object' && document !== null && !Array.isArray(document);
  const key = isObject ? (document as Record<string, unknown>).key : secretString;
  if (typeof key !== 'string') {
    throw new KeySecretError('the pseudonym key secret is a JSON object without a string member "key"');
  }
  if (key === '') throw new KeySecretError('the pseudonym key secret holds an empty key');
  return key;
}
