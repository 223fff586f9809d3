/**
 * The first step of a data subject's erasure workflow: pairs each registered store with the
 * subject's pseudonym for the identifier it is keyed by. The pseudonyms come from the submission
 * (submit.ts), which turned the raw ids into them before the workflow started: no raw id ever
 * enters the workflow, whose input Step Functions keeps with the execution's history.
 *
 * Privacy rules that shape this file:
 * - the output carries pseudonyms, store specs and a SHA-256 of the request id, never a raw id;
 *   an input that carries raw ids (`subjectIds`) is refused;
 * - logs carry the request hash, identifier names and counts only, never a value, and error
 *   messages name identifiers, never their values (a message may end up in the execution history).
 *
 * Environment: ALERT_AFTER_DAYS (when a request not yet erased raises the deadline alert),
 * AUDIT_RETENTION_DAYS (the audit records' TTL).
 */
import { createHash } from 'node:crypto';
import { pseudonymize, PSEUDONYM_PATTERN } from '../../../../lib/runtime/pseudonym';

/** A store as the registry describes it (see stores.ts, storeSpec). */
export interface StoreSpec {
  readonly name: string;
  readonly kind: string;
  readonly automated: boolean;
  readonly identifier?: string;
  readonly [field: string]: unknown;
}

/** What the workflow passes in: its execution input, plus the registry. */
export interface PlanInput {
  /** The request's own id (a ticket number, never a personal identifier): only its hash is kept. */
  readonly requestId: unknown;
  /** The subject's pseudonyms by identifier name (submit.ts made them), e.g. `{ "user_id": "<64 hex>" }`. */
  readonly subjectPseudonyms: unknown;
  /** Raw identifiers: refused here (they belong to the submission, never to the workflow). */
  readonly subjectIds?: unknown;
  /** When the request was received (ISO-8601), which starts the one-month clock. @default now */
  readonly receivedAt?: unknown;
  readonly registry: { readonly stores: readonly StoreSpec[] };
}

/**
 * A store paired with the subject's pseudonym for its identifier (absent: the request names no such
 * identifier); a store erased by expiry (`goneWithinDays`) also with the time by which it is gone.
 */
export type Target = StoreSpec & { readonly pseudonym?: string; readonly goneBy?: string };

export interface PlanOutput {
  /** SHA-256 (hex) of the request id: the audit records' partition key. */
  readonly requestHash: string;
  readonly receivedAt: string;
  /** When the deadline check starts alerting about this request if it is not erased by then. */
  readonly deadlineAt: string;
  /** Epoch seconds (as a string, for DynamoDB's N) at which the audit records expire. */
  readonly expiresAt: string;
  /**
   * Every registered store, in registry order: an automated store whose identifier the request
   * names carries the pseudonym; the others (manual, or another identifier) carry none.
   */
  readonly targets: readonly Target[];
}

export interface PlanSettings {
  readonly alertAfterDays: number;
  readonly auditRetentionDays: number;
}

/** A request the workflow cannot carry out; the message names the field, never a value. */
export class ErasureRequestError extends Error {
  override readonly name = 'ErasureRequestError';
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,127}$/;
const DAY_MS = 86_400_000;
// A clock a little ahead of ours is not an error; a receipt date in the future is.
const CLOCK_SKEW_MS = 5 * 60_000;

export function requestIdOf(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 256) {
    throw new ErasureRequestError('requestId must be a non-empty string of at most 256 characters (a ticket number, not a personal identifier)');
  }
  return value;
}

export function subjectIdsOf(value: unknown, known: ReadonlySet<string>): Map<string, string | number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ErasureRequestError('subjectIds must be an object of raw identifiers by identifier name, e.g. {"user_id": "42"}');
  }
  const ids = new Map<string, string | number>();
  for (const [name, raw] of Object.entries(value)) {
    if (!IDENTIFIER.test(name)) {
      throw new ErasureRequestError('subjectIds has a name that is not an identifier name (lower case letters, digits and underscores)');
    }
    if (!known.has(name)) {
      throw new ErasureRequestError(`subjectIds.${name}: no registered store is keyed by this identifier; known: ${[...known].sort().join(', ') || 'none'}`);
    }
    // Numbers beyond 2^53 arrive rounded by JSON.parse and would get another person's pseudonym: send ids as strings.
    const ok = (typeof raw === 'string' && raw !== '') || (typeof raw === 'number' && Number.isSafeInteger(raw));
    if (!ok) {
      throw new ErasureRequestError(`subjectIds.${name} must be a non-empty string (or a safe integer)`);
    }
    ids.set(name, raw);
  }
  if (ids.size === 0) {
    throw new ErasureRequestError(`subjectIds must name at least one identifier; known: ${[...known].sort().join(', ') || 'none'}`);
  }
  return ids;
}

export function receivedAtOf(value: unknown, now: Date): Date {
  if (value === undefined || value === null) {
    return now;
  }
  const date = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime()) || date.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw new ErasureRequestError('receivedAt must be an ISO-8601 date or time (e.g. 2025-01-31 or 2025-01-31T09:00:00Z), not in the future');
  }
  return date;
}

/** SHA-256 of the request id, hex: what audit records and execution names carry instead of the id. */
export function requestHash(requestId: string): string {
  return createHash('sha256').update(requestId, 'utf8').digest('hex');
}


function subjectPseudonymsOf(value: unknown, known: ReadonlySet<string>): Map<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length === 0) {
    throw new ErasureRequestError('subjectPseudonyms must be an object of pseudonyms by identifier name: submit requests through the erasure submit function, which makes them');
  }
  const pseudonyms = new Map<string, string>();
  for (const [name, pseudonym] of Object.entries(value)) {
    if (!IDENTIFIER.test(name) || !known.has(name)) {
      throw new ErasureRequestError(`subjectPseudonyms has an identifier no registered store is keyed by; known: ${[...known].sort().join(', ') || 'none'}`);
    }
    if (typeof pseudonym !== 'string' || !PSEUDONYM_PATTERN.test(pseudonym)) {
      throw new ErasureRequestError(`subjectPseudonyms.${name} must be a pseudonym (64 lower-case hex digits)`);
    }
    pseudonyms.set(name, pseudonym);
  }
  return pseudonyms;
}

/** The plan of one request: pure, for tests; the handler adds the clock. */
export function plan(input: PlanInput, now: Date, settings: PlanSettings): PlanOutput {
  const stores = input.registry?.stores;
  if (!Array.isArray(stores)) {
    throw new ErasureRequestError('registry.stores is missing: the workflow passes the registry with the request');
  }
  if (input.subjectIds !== undefined) {
    // Raw ids in a workflow's input stay in its execution history: submissions pseudonymize first.
    throw new ErasureRequestError('subjectIds (raw identifiers) must not be given to the workflow: submit the request through the erasure submit function (npm run erase), which starts the workflow with pseudonyms');
  }
  const requestId = requestIdOf(input.requestId);
  const known = new Set(stores.flatMap((s) => (s.identifier !== undefined ? [s.identifier] : [])));
  const pseudonyms = subjectPseudonymsOf(input.subjectPseudonyms, known);
  const receivedAt = receivedAtOf(input.receivedAt, now);
  const targets = stores.map((store): Target => {
    // A store keyed by several identifiers (the raw zone: `identifiers`) is requested when the request
    // names any of them; its pseudonym is then only that mark (the raw eraser reads every pseudonym of
    // the request from the request object the workflow saves).
    const keys = store.identifier !== undefined ? [store.identifier] : Array.isArray(store.identifiers) ? store.identifiers as string[] : [];
    const pseudonym = keys.map((key) => pseudonyms.get(key)).find((p) => p !== undefined);
    // A store erased by expiry is gone within its days of now, whatever the receipt date: its audit record says by when.
    const goneBy = typeof store.goneWithinDays === 'number' ? { goneBy: new Date(now.getTime() + store.goneWithinDays * DAY_MS).toISOString() } : {};
    return pseudonym !== undefined && store.automated ? { ...store, pseudonym, ...goneBy } : { ...store, ...goneBy };
  });
  return {
    requestHash: requestHash(requestId),
    receivedAt: receivedAt.toISOString(),
    deadlineAt: new Date(receivedAt.getTime() + settings.alertAfterDays * DAY_MS).toISOString(),
    expiresAt: String(Math.floor(now.getTime() / 1000) + settings.auditRetentionDays * 86_400),
    targets,
  };
}

/** The workflow's second question, after the first sweep: when the second one is due. */
export interface SecondSweepDueInput {
  readonly secondSweepDue: { readonly firstSweepAt: unknown; readonly afterSeconds: unknown };
}

const MAX_WAIT_SECONDS = 30 * 86_400;

/**
 * When the second sweep is due: the first sweep's time (its first execution's, kept in the request's
 * record) and the wait for late writes. A time already past lets a rerun go on at once.
 */
export function secondSweepDue(input: SecondSweepDueInput['secondSweepDue']): { dueAt: string } {
  const at = typeof input.firstSweepAt === 'string' ? new Date(input.firstSweepAt) : undefined;
  if (at === undefined || Number.isNaN(at.getTime())) {
    throw new ErasureRequestError('secondSweepDue.firstSweepAt must be an ISO-8601 time (the request record\'s first_sweep_at)');
  }
  const after = input.afterSeconds;
  if (typeof after !== 'number' || !Number.isInteger(after) || after < 0 || after > MAX_WAIT_SECONDS) {
    throw new ErasureRequestError(`secondSweepDue.afterSeconds must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  return { dueAt: new Date(at.getTime() + after * 1000).toISOString() };
}

/** The subject's pseudonyms, by identifier: what a submission starts the workflow with. */
export function pseudonymsOf(ids: ReadonlyMap<string, string | number>, key: string): Record<string, string> {
  return Object.fromEntries([...ids].map(([name, raw]) => [name, pseudonymize(key, raw)]));
}

function positiveInteger(env: Readonly<Record<string, string | undefined>>, name: string): number {
  const value = Number(env[name]);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number of days, at least 1`);
  }
  return value;
}

export const handler = async (input: PlanInput | SecondSweepDueInput): Promise<PlanOutput | { dueAt: string }> => {
  if ('secondSweepDue' in input) {
    return secondSweepDue(input.secondSweepDue);
  }
  const settings = { alertAfterDays: positiveInteger(process.env, 'ALERT_AFTER_DAYS'), auditRetentionDays: positiveInteger(process.env, 'AUDIT_RETENTION_DAYS') };
  const output = plan(input, new Date(), settings);
  const targeted = output.targets.filter((t) => t.pseudonym !== undefined);
  console.log(JSON.stringify({
    level: 'INFO',
    message: 'erasure planned',
    requestHash: output.requestHash,
    identifiers: [...new Set(targeted.map((t) => t.identifier))].sort(),
    automatedStores: targeted.length,
    otherStores: output.targets.length - targeted.length,
  }));
  return output;
};
