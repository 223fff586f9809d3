/** The stages' view of a request: identifier values replaced by the lake's keyed pseudonyms. */
import { PseudonymInputError, pseudonymize } from '../../../lib/runtime/pseudonym';
import { ClientError } from './request';
import type { RequestValue } from './types';

/** Identifier fields pseudonymized (lists element-wise); other fields as they are. */
export function pseudonymizeRequest(
  raw: Readonly<Record<string, RequestValue>>,
  identifiers: ReadonlySet<string>,
  key: string,
): Record<string, RequestValue> {
  const view: Record<string, RequestValue> = {};
  for (const name in raw) {
    const value = raw[name];
    if (!identifiers.has(name)) view[name] = value;
    else if (Array.isArray(value)) view[name] = value.map((item: string | number | bigint) => pseudonymizeField(key, name, item));
    else view[name] = pseudonymizeField(key, name, value as string | number | bigint);
  }
  return view;
}

export function pseudonymizeField(key: string, field: string, value: string | number | bigint): string {
  try {
    return pseudonymize(key, value);
  } catch (error) {
    // Only the input can be at fault here (the key was checked when read): a lone surrogate.
    if (error instanceof PseudonymInputError) {
      throw new ClientError(400, `field ${JSON.stringify(field)} contains text that has no UTF-8 encoding`);
    }
    throw error;
  }
}
