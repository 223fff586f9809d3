/**
 * `npm run erase -- <blueprint> --user-id <id> [--<identifier> <id>]... [options]`: submits a data
 * subject's erasure request to a deployed blueprint's erasure workflow (constructs/data-lake,
 * "Erasure"), and with `--wait` follows it to the end and prints the request's audit.
 *
 * Each `--<identifier> <raw id>` names the subject by one identifier of the blueprint's registry
 * (`--user-id` → `user_id`; `--id owner_id=<raw id>` for any name). Options:
 *   --request-id <ticket>      the request's own id (a ticket number, never a personal identifier);
 *                              only its SHA-256 is kept. Default: erasure-<time>.
 *   --received-at <ISO date>   when the request arrived (starts the one-month clock). Default: now.
 *   --region <region>          Default: $AWS_REGION, else the kit's default region.
 *   --wait                     poll until the execution's first sweep ends (or only the raw zone's batch is left), then print the audit records
 *                              (a second sweep of the stores jobs write late follows hours later).
 *
 * `npm run erase -- <blueprint> --status --request-id <ticket> [--region <region>]` submits nothing:
 * it prints the request's audit and its last execution's status (e.g. after the second sweep).
 *
 * The raw ids travel only in the invocation of the blueprint's erasure submit function, which
 * pseudonymizes them and starts the workflow with the pseudonyms: Step Functions, which keeps a
 * workflow's input with its history, never sees them, and this script never prints them. Running
 * the same request again resumes it: stores already verified are skipped. Needs
 * `lambda:InvokeFunction` on `<stack>-erasure-submit` (`DataLakeErasure.grantSubmit`).
 */
import { createHash } from 'node:crypto';
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, DescribeStateMachineCommand, ListStateMachinesCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { AUDIT_TABLE, ErasureRequestStatus, ErasureStatus, SECOND_SWEEP_SUFFIX, erasureSubmitFunctionName, erasureWorkflowName } from '../constructs/data-lake/erasure/erasure';
import type { SubmitInput, SubmitOutput } from '../constructs/data-lake/erasure/runtime/submit';
import { DEFAULT_REGION } from '../lib/compliance/regions';
import { KitError } from '../lib/errors';

/** What the command line asks for. */
export interface EraseRequest {
  readonly blueprint: string;
  readonly requestId: string;
  readonly subjectIds: Readonly<Record<string, string>>;
  readonly receivedAt?: string;
  readonly region: string;
  readonly wait: boolean;
  /** Print the audit of `requestId` instead of submitting a request. */
  readonly status: boolean;
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,127}$/;
const USAGE = 'usage: npm run erase -- <blueprint> --user-id <id> [--<identifier> <id> | --id <identifier>=<id>]... '
  + '[--request-id <ticket>] [--received-at <ISO date>] [--region <region>] [--wait], or <blueprint> --status --request-id <ticket> [--region <region>]';

/** Parses the arguments after `npm run erase --`. Errors name the option, never an id. */
export function parseEraseArguments(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env, now = new Date()): EraseRequest {
  const [blueprint, ...rest] = argv;
  if (blueprint === undefined || blueprint.startsWith('--')) {
    throw new KitError(`the blueprint comes first (e.g. people-you-may-know); ${USAGE}`);
  }
  const subjectIds: Record<string, string> = {};
  let requestId: string | undefined;
  let receivedAt: string | undefined;
  let region: string | undefined;
  let wait = false;
  let status = false;
  const addId = (name: string, value: string) => {
    if (!IDENTIFIER.test(name)) throw new KitError(`'${name}' is not an identifier name (lower case letters, digits and underscores); ${USAGE}`);
    if (name in subjectIds) throw new KitError(`the identifier ${name} is given twice`);
    subjectIds[name] = value;
  };
  for (let i = 0; i < rest.length; i++) {
    const option = rest[i];
    if (option === '--wait' || option === '--status') {
      wait ||= option === '--wait';
      status ||= option === '--status';
      continue;
    }
    if (!option.startsWith('--')) throw new KitError(`unexpected argument at position ${i + 2}; ${USAGE}`);
    const value = rest[++i];
    if (value === undefined || value === '') throw new KitError(`${option} needs a value; ${USAGE}`);
    switch (option) {
      case '--request-id':
        requestId = value;
        break;
      case '--received-at':
        receivedAt = value;
        break;
      case '--region':
        region = value;
        break;
      case '--id': {
        const at = value.indexOf('=');
        if (at <= 0 || at === value.length - 1) throw new KitError(`--id takes <identifier>=<id>; ${USAGE}`);
        addId(value.slice(0, at), value.slice(at + 1));
        break;
      }
      default:
        addId(option.slice(2).replace(/-/g, '_'), value);
    }
  }
  if (status) {
    // A status check needs no id, and must not carry one on the command line for nothing.
    if (Object.keys(subjectIds).length > 0 || wait || receivedAt !== undefined) {
      throw new KitError(`--status reads a submitted request's audit: give it --request-id (and --region) only; ${USAGE}`);
    }
    if (requestId === undefined) throw new KitError(`--status needs the request's --request-id; ${USAGE}`);
  } else if (Object.keys(subjectIds).length === 0) {
    throw new KitError(`name the subject by at least one identifier (e.g. --user-id <id>); ${USAGE}`);
  }
  return {
    blueprint,
    requestId: requestId ?? `erasure-${now.toISOString().replace(/[-:.]/g, '')}`,
    subjectIds,
    receivedAt,
    region: region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? DEFAULT_REGION,
    wait,
    status,
  };
}

/** Sends a request to the submit function and returns its answer (tests stand in for Lambda). */
export type SubmitInvoker = (functionName: string, input: SubmitInput) => Promise<SubmitOutput>;

/** The submit function invoked through Lambda. */
export function lambdaInvoker(lambda: Pick<LambdaClient, 'send'>): SubmitInvoker {
  return async (functionName, input) => {
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    let response: InvokeCommandOutput;
    try {
      response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(input), 'utf8') }));
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'ResourceNotFoundException') throw new KitError(`no function ${functionName} in this account and region: is the blueprint deployed there (--region)?`);
      throw error;
    }
    const text = Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8');
    if (response.FunctionError !== undefined) {
      // The function's errors name fields, never values; its payload is its error object.
      const message = (() => { try { return (JSON.parse(text) as { errorMessage?: string }).errorMessage; } catch { return undefined; } })();
      throw new KitError(`the erasure submit function failed (${response.FunctionError}): ${message ?? 'see its log'}`);
    }
    return JSON.parse(text) as SubmitOutput;
  };
}

export interface Submitted {
  readonly executionArn: string;
  readonly stateMachineArn: string;
}

/** Submits `request` to the erasure submit function of `stackName`; a refused request is a KitError saying why. */
export async function submitErasure(invoke: SubmitInvoker, stackName: string, request: EraseRequest): Promise<Submitted> {
  const input: SubmitInput = { requestId: request.requestId, subjectIds: request.subjectIds, ...(request.receivedAt ? { receivedAt: request.receivedAt } : {}) };
  const answer = await invoke(erasureSubmitFunctionName(stackName), input);
  if (!answer.accepted) throw new KitError(`the erasure request was refused: ${answer.error}`);
  // arn:aws:states:<region>:<account>:execution:<state machine>:<execution> → its state machine's ARN.
  const stateMachineArn = answer.executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
  return { executionArn: answer.executionArn, stateMachineArn };
}

/** One line of the audit, as printed. */
export interface AuditLine {
  readonly store: string;
  readonly status: string;
  readonly found?: string;
  readonly location?: string;
  readonly reason?: string;
  readonly error?: string;
  /** An Iceberg store's purge of the files that held the rows: `pending` until the deadline check finds none left. */
  readonly purge?: string;
  /** The request's own record: when its first sweep ended (a second one follows for stores written late). */
  readonly firstSweepAt?: string;
  /** Objects erased by expiry: when their last version is gone, as their verified lifecycle rules bound it. */
  readonly goneBy?: string;
}

/**
 * Polls the execution until it ends, or by default until its first sweep has ended (the second one,
 * of the stores jobs write late, waits hours in the same execution) or has only the raw zone's batch
 * left to wait for (a day or more); returns the execution's status
 * (`RUNNING` when it stopped after the first sweep) and the request's audit records.
 */
export async function waitForErasure(clients: ErasureClients, submitted: Submitted, requestId: string,
  options: { pollMs?: number; timeoutMs?: number; untilSecondSweep?: boolean } = {}): Promise<{ status: string; audit: AuditLine[] }> {
  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3600_000);
  const { read: readAudit, stores } = await auditReader(clients, submitted.stateMachineArn, requestId);
  let executionArn = submitted.executionArn;
  let execution = executionArn.split(':').at(-1);
  const firstSweepDone = async () => {
    const items = await readAudit();
    const request = items.find((item) => item[AUDIT_TABLE.sortKey]?.S === AUDIT_TABLE.requestRecord);
    // A rerun's record may hold an earlier execution's first sweep: only this execution's counts.
    if (request === undefined || request.last_execution?.S !== execution) return false;
    if (request.first_sweep_at?.S !== undefined) return true;
    // The raw zone waits for its batch (a day or more): every other store of the first sweep is recorded by then.
    const firstSweep = items.filter((item) => item[AUDIT_TABLE.sortKey]?.S !== AUDIT_TABLE.requestRecord && !item[AUDIT_TABLE.sortKey]?.S?.endsWith(SECOND_SWEEP_SUFFIX));
    return firstSweep.length >= stores && firstSweep.some((item) => item.status?.S === ErasureStatus.QUEUED && item.execution?.S === execution);
  };
  let status: string | undefined;
  for (;;) {
    status = (await clients.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
    if (status === 'SUCCEEDED') {
      // An execution with more DynamoDB items than it deletes hands the request to the next one, which it names.
      const request = (await readAudit()).find((item) => item[AUDIT_TABLE.sortKey]?.S === AUDIT_TABLE.requestRecord);
      const next = request?.continued_in?.S;
      if (request?.status?.S === ErasureRequestStatus.RUNNING && next !== undefined && next !== execution) {
        executionArn = `${executionArn.slice(0, executionArn.lastIndexOf(':'))}:${next}`;
        execution = next;
        continue;
      }
    }
    if (status !== 'RUNNING' && status !== 'PENDING_REDRIVE') break;
    if (!options.untilSecondSweep && await firstSweepDone()) break;
    if (Date.now() > deadline) throw new KitError(`the execution is still running: ${submitted.executionArn}`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 10_000));
  }
  return { status: status ?? 'UNKNOWN', audit: auditLines(await readAudit()) };
}

type ErasureClients = { sfn: SFNClient; dynamodb: DynamoDBClient };
type AuditItem = Record<string, AttributeValue>;

/**
 * Reads a request's audit records, from the table the workflow writes to (its definition names it),
 * and says how many stores the workflow's registry holds.
 */
async function auditReader(clients: ErasureClients, stateMachineArn: string, requestId: string): Promise<{ read: () => Promise<AuditItem[]>; stores: number }> {
  const definition = (await clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn }))).definition ?? '{}';
  const states = JSON.parse(definition).States;
  const table = states?.RecordRequest?.Parameters?.TableName;
  if (typeof table !== 'string') throw new KitError('the erasure workflow names no audit table (state RecordRequest)');
  const registry = states?.Registry?.Result?.stores;
  const hash = createHash('sha256').update(requestId, 'utf8').digest('hex');
  const read = async () => ((await clients.dynamodb.send(new QueryCommand({
    TableName: table,
    KeyConditionExpression: '#r = :r',
    ExpressionAttributeNames: { '#r': AUDIT_TABLE.partitionKey },
    ExpressionAttributeValues: { ':r': { S: hash } },
    ConsistentRead: true,
  }))).Items ?? []);
  return { read, stores: Array.isArray(registry) ? registry.length : Number.POSITIVE_INFINITY };
}

/**
 * `--status`: the audit of a request submitted earlier and the status of its last execution (the
 * request's record names it), without submitting anything.
 *
 * @throws KitError when the audit holds no such request
 */
export async function erasureStatus(clients: ErasureClients, stateMachineArn: string, requestId: string): Promise<{ status: string; audit: AuditLine[] }> {
  const items = await (await auditReader(clients, stateMachineArn, requestId)).read();
  const request = items.find((item) => item[AUDIT_TABLE.sortKey]?.S === AUDIT_TABLE.requestRecord);
  const execution = request?.last_execution?.S;
  if (execution === undefined) throw new KitError('the audit holds no request with this id: was it submitted to this blueprint, in this region?');
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
  const { status } = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  return { status: status ?? 'UNKNOWN', audit: auditLines(items) };
}

/** The erasure workflow of a stack, found by its name among the region's state machines. */
export async function erasureStateMachineArn(sfn: SFNClient, stackName: string): Promise<string> {
  const name = erasureWorkflowName(stackName);
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken }));
    const found = page.stateMachines?.find((m) => m.name === name);
    if (found?.stateMachineArn !== undefined) return found.stateMachineArn;
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  throw new KitError(`no state machine ${name} in this account and region: is the blueprint deployed there (--region)?`);
}

function auditLines(items: readonly AuditItem[]): AuditLine[] {
  return items.map((item) => ({
    store: item[AUDIT_TABLE.sortKey]?.S ?? '?',
    status: item.status?.S ?? '?',
    ...(item.found?.N !== undefined ? { found: item.found.N } : {}),
    ...(item.location?.S !== undefined ? { location: item.location.S } : {}),
    ...(item.reason?.S !== undefined ? { reason: item.reason.S } : {}),
    ...(item.error?.S !== undefined ? { error: item.error.S } : {}),
    ...(item.purge?.S !== undefined ? { purge: item.purge.S } : {}),
    ...(item.first_sweep_at?.S !== undefined ? { firstSweepAt: item.first_sweep_at.S } : {}),
    ...(item.gone_by?.S !== undefined ? { goneBy: item.gone_by.S } : {}),
  }));
}

/** The audit as text for a person: automated stores first, then what is left to do by hand. */
export function formatAudit(status: string, audit: readonly AuditLine[]): string {
  const request = audit.find((a) => a.store === AUDIT_TABLE.requestRecord);
  const stores = audit.filter((a) => a.store !== AUDIT_TABLE.requestRecord);
  const manual = stores.filter((a) => a.status === 'manual');
  const lines = [
    `execution ${status}; request ${request?.status ?? 'not recorded'}`,
    ...stores.filter((a) => a.status !== 'manual')
      .map((a) => `  ${a.status.padEnd(13)} ${a.store}${a.found !== undefined ? ` (${a.found} found)` : ''}${a.goneBy ? ` (expire: gone by ${a.goneBy})` : ''}`
        + `${a.purge ? `, files purge ${a.purge}` : ''}${a.error ? ` error ${a.error}` : ''}`),
  ];
  if (status === 'RUNNING' && request?.firstSweepAt !== undefined) {
    lines.push(`first sweep done at ${request.firstSweepAt}: the same execution sweeps the stores that jobs write late again once the longest such job `
      + `has ended (their records end in ${SECOND_SWEEP_SUFFIX}); see them later with --status and the same --request-id`);
  }
  if (stores.some((a) => a.status === ErasureStatus.CONTINUED)) {
    lines.push('continued: more items than one execution deletes; the next execution of the request goes on from there (the count so far in brackets)');
  }
  if (stores.some((a) => a.status === ErasureStatus.QUEUED)) {
    lines.push('queued: the raw zone\'s objects are erased by the next raw erasure batch (every request queued since the last one, in one pass); '
      + 'the request\'s execution waits for it and records what it removed; see it later with --status and the same --request-id');
  }
  if (stores.some((a) => a.purge === 'pending')) {
    lines.push('files purge pending: the tables\' maintenance rewrites the data files that held the rows; the daily deadline check verifies they are gone from S3');
  }
  if (stores.some((a) => a.goneBy !== undefined)) {
    lines.push('gone by: the objects expire; their lifecycle rules were verified to remove every version by then, before the request\'s alert date');
  }
  if (manual.length > 0) {
    lines.push('to erase by hand (not automated yet):', ...manual.map((a) => `  ${a.store}: ${a.location ?? ''}\n    ${a.reason ?? ''}`));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const request = parseEraseArguments(process.argv.slice(2));
  const { BLUEPRINTS } = await import('../blueprints');
  const blueprint = BLUEPRINTS.find((b) => b.id === request.blueprint);
  if (!blueprint) {
    throw new KitError(`no blueprint '${request.blueprint}'; blueprints: ${BLUEPRINTS.map((b) => b.id).join(', ')}`);
  }
  const [{ SFNClient }, { DynamoDBClient }, { LambdaClient }] = await Promise.all([
    import('@aws-sdk/client-sfn'), import('@aws-sdk/client-dynamodb'), import('@aws-sdk/client-lambda'),
  ]);
  const sfn = new SFNClient({ region: request.region });
  if (request.status) {
    const { status, audit } = await erasureStatus({ sfn, dynamodb: new DynamoDBClient({ region: request.region }) },
      await erasureStateMachineArn(sfn, blueprint.stackName), request.requestId);
    console.log(formatAudit(status, audit));
    if (status !== 'SUCCEEDED' && status !== 'RUNNING') process.exitCode = 1;
    return;
  }
  const submitted = await submitErasure(lambdaInvoker(new LambdaClient({ region: request.region })), blueprint.stackName, request);
  console.log(`request ${request.requestId} (identifiers: ${Object.keys(request.subjectIds).join(', ')}) submitted to ${blueprint.stackName}: ${submitted.executionArn}`);
  if (request.wait) {
    const { status, audit } = await waitForErasure({ sfn, dynamodb: new DynamoDBClient({ region: request.region }) }, submitted, request.requestId);
    console.log(formatAudit(status, audit));
    if (status !== 'SUCCEEDED' && status !== 'RUNNING') process.exitCode = 1;
  } else {
    // Submitting again would start a rerun (it resumes, so it is harmless, but it is not a status check).
    console.log('its audit records each store: see it with --status and the same --request-id, or pass --wait next time to follow the execution');
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    // Messages name options and identifiers, never an id: safe to print.
    console.error(`erase: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
