/**
 * How a data subject's erasure request enters the lake: a function that turns the subject's raw
 * identifiers into the lake's pseudonyms and starts the erasure workflow with the pseudonyms only.
 * Step Functions keeps a workflow's input with its execution history for 90 days; the raw ids
 * stay out of it, travelling only in this function's invocation (which nothing records).
 *
 * Privacy rules that shape this file:
 * - the workflow's input and the execution's name carry pseudonyms and the request id's hash;
 * - logs carry the request hash, identifier names and counts only, never a value; errors name
 *   fields, never values (the caller may print them);
 * - the pseudonymization key is read from Secrets Manager, cached in memory, never logged.
 *
 * Environment: KEY_SECRET_ARN (the lake's pseudonymization key), STATE_MACHINE_ARN (the erasure
 * workflow), ERASURE_IDENTIFIERS (JSON list of the identifiers registered stores are keyed by).
 */
import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ErasureRequestError, pseudonymsOf, receivedAtOf, requestHash, requestIdOf, subjectIdsOf } from './plan';
import { parseKeySecret } from '../../../../lib/runtime/pseudonym';

/** What a caller sends (`npm run erase`, or any client allowed to invoke the function). */
export interface SubmitInput {
  /** The request's own id (a ticket number, never a personal identifier). */
  readonly requestId: unknown;
  /** Raw identifiers of the subject by identifier name, e.g. `{ "user_id": "42" }`. */
  readonly subjectIds: unknown;
  /** When the request was received (ISO-8601), which starts the one-month clock. @default now */
  readonly receivedAt?: unknown;
}

/** The workflow's input: the plan step's, without a raw id. */
export interface WorkflowInput {
  readonly requestId: string;
  readonly subjectPseudonyms: Readonly<Record<string, string>>;
  readonly receivedAt: string;
}

/** What the caller gets back: where to follow the request. */
export type SubmitOutput =
  | { readonly accepted: true; readonly executionArn: string; readonly requestHash: string; readonly identifiers: readonly string[] }
  | { readonly accepted: false; readonly error: string };

/** The workflow's input and execution name for a request: pure, for tests. */
export function submission(input: SubmitInput, key: string, identifiers: ReadonlySet<string>, now: Date): { name: string; input: WorkflowInput } {
  const requestId = requestIdOf(input.requestId);
  const ids = subjectIdsOf(input.subjectIds, identifiers);
  const receivedAt = receivedAtOf(input.receivedAt, now);
  return {
    name: executionName(requestId, now),
    input: { requestId, subjectPseudonyms: pseudonymsOf(ids, key), receivedAt: receivedAt.toISOString() },
  };
}

/** The execution's name: the request id's hash and the time, so that it never carries an id and a rerun gets a new one. */
export function executionName(requestId: string, now: Date): string {
  return `erase-${createHash('sha256').update(requestId, 'utf8').digest('hex').slice(0, 32)}-${now.getTime()}`;
}

/** The function's settings, read once. */
export interface SubmitSettings {
  readonly keySecretArn: string;
  readonly stateMachineArn: string;
  readonly identifiers: ReadonlySet<string>;
}

export function readSubmitSettings(env: Readonly<Record<string, string | undefined>>): SubmitSettings {
  const problems: string[] = [];
  const keySecretArn = env.KEY_SECRET_ARN ?? '';
  const stateMachineArn = env.STATE_MACHINE_ARN ?? '';
  if (!keySecretArn.startsWith('arn:')) problems.push('KEY_SECRET_ARN must be the pseudonymization key secret\'s ARN');
  if (!stateMachineArn.startsWith('arn:')) problems.push('STATE_MACHINE_ARN must be the erasure workflow\'s ARN');
  let identifiers: unknown;
  try {
    identifiers = JSON.parse(env.ERASURE_IDENTIFIERS ?? '');
  } catch {
    identifiers = undefined;
  }
  if (!Array.isArray(identifiers) || identifiers.length === 0 || identifiers.some((i) => typeof i !== 'string')) {
    problems.push('ERASURE_IDENTIFIERS must be a JSON list of identifier names');
  }
  if (problems.length > 0) throw new Error(`erasure submit settings: ${problems.join('; ')}`);
  return { keySecretArn, stateMachineArn, identifiers: new Set(identifiers as string[]) };
}

export interface SubmitDeps {
  readonly key: () => Promise<string>;
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly now: () => Date;
  readonly log: (fields: Readonly<Record<string, unknown>>) => void;
}

/**
 * Validates, pseudonymizes and starts the workflow. A request the lake cannot carry out (a missing
 * request id, an identifier no store uses, a date in the future) is answered `accepted: false`
 * with what is wrong, and nothing is started.
 */
export async function submit(input: SubmitInput, settings: SubmitSettings, deps: SubmitDeps): Promise<SubmitOutput> {
  let prepared: ReturnType<typeof submission>;
  try {
    prepared = submission(input ?? {}, await deps.key(), settings.identifiers, deps.now());
  } catch (error) {
    if (!(error instanceof ErasureRequestError)) throw error;
    deps.log({ level: 'WARN', message: 'erasure request refused', error: error.message });
    return { accepted: false, error: error.message };
  }
  const started = await deps.sfn.send(new StartExecutionCommand({
    stateMachineArn: settings.stateMachineArn,
    name: prepared.name,
    input: JSON.stringify(prepared.input),
  }));
  const hash = requestHash(prepared.input.requestId);
  const identifiers = Object.keys(prepared.input.subjectPseudonyms).sort();
  deps.log({ level: 'INFO', message: 'erasure request submitted', requestHash: hash, identifiers, execution: prepared.name });
  return { accepted: true, executionArn: started.executionArn ?? '', requestHash: hash, identifiers };
}

const secrets = new SecretsManagerClient({});
let cachedKey: Promise<string> | undefined;
let cachedSettings: SubmitSettings | undefined;
const sfn = new SFNClient({});

function pseudonymKey(secretId: string): Promise<string> {
  cachedKey ??= secrets.send(new GetSecretValueCommand({ SecretId: secretId })).then((response) => {
    if (response.SecretString === undefined) throw new Error('the pseudonymization key secret has no SecretString');
    return parseKeySecret(response.SecretString);
  }).catch((error: unknown) => {
    // Forgotten, so that the next invocation retries instead of failing for the container's lifetime.
    cachedKey = undefined;
    throw error;
  });
  return cachedKey;
}

export const handler = async (input: SubmitInput): Promise<SubmitOutput> => {
  cachedSettings ??= readSubmitSettings(process.env);
  const settings = cachedSettings;
  return submit(input, settings, {
    key: () => pseudonymKey(settings.keySecretArn),
    sfn,
    now: () => new Date(),
    log: (fields) => console.log(JSON.stringify(fields)),
  });
};
