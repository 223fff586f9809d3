/**
 * The release state: one DynamoDB item per endpoint saying which model version is champion, which
 * is challenger, where the ramp stands and which endpoint update is still pending. It is the one
 * source of truth for the release loop (the template will read it at deploy time too), so every
 * write is conditional on the `version` read before it: two invocations that race cannot both
 * win, and the loser gets a {@link ConflictError} to reload and redo its work.
 *
 * Beside it, decision records (`decision#<iso time>#<action>`) are the audit trail of every ramp
 * decision and deployment, kept for a retention period through the table's TTL. They hold model
 * names, versions, counts and statistics: no personal data.
 */
import {
  ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { StoreSettings } from './contract';
import { JsonValue, fromAttributeMap, toAttribute, toAttributeMap } from './dynamo-json';
import { ConflictError, ReleaseInputError } from './errors';
import { isSageMakerName } from './names';
import type { RampState } from './ramp-policy';

/** `modelPackageArn` of a champion that the template deployed without a model package of the group. */
export const BOOTSTRAP_PACKAGE = 'bootstrap';
/** Sort key of the state item. */
export const STATE_SORT_KEY = 'state';
/** Sort key prefix of decision records. */
export const DECISION_PREFIX = 'decision#';

/** A model serving one production variant. */
export interface ServedModel {
  /** The model package it was created from, or {@link BOOTSTRAP_PACKAGE}. */
  readonly modelPackageArn: string;
  /** The package's version in the group; null for the bootstrap model or a package of no group. */
  readonly modelPackageVersion: number | null;
  /** SageMaker model name. */
  readonly modelName: string;
  /** The production variant it serves. */
  readonly variantName: string;
}

/** The challenger of a running experiment. */
export interface ChallengerModel extends ServedModel {
  /** When the endpoint was seen serving it (ISO 8601): the business metric counts users from the next full hour. */
  readonly experimentStartedAt: string;
}

/** An endpoint update the promotion handler started and nobody has yet seen finish. */
export interface PendingDeployment {
  /** `challenger`: a new challenger in the second variant; `champion`: a new model in the only variant. */
  readonly role: 'challenger' | 'champion';
  /** The model being deployed. */
  readonly model: ServedModel;
  /** The endpoint config the update deploys. */
  readonly endpointConfigName: string;
  /** The endpoint config before the update (an auto-rollback returns to it). */
  readonly previousEndpointConfigName: string;
  /** When UpdateEndpoint was called (ISO 8601). */
  readonly requestedAt: string;
}

/** A variant's share of traffic, in percent. */
export interface VariantWeight {
  readonly variantName: string;
  readonly weight: number;
}

/** The state item of one endpoint. */
export interface ReleaseState {
  /** The endpoint (the partition key). */
  readonly endpointName: string;
  /** Write counter for optimistic concurrency: 0 before the first write. */
  readonly version: number;
  /** The model serving the champion's share. */
  readonly champion: ServedModel;
  /** The challenger while an experiment runs. */
  readonly challenger: ChallengerModel | null;
  /** The ramp controller's state while an experiment runs. */
  readonly ramp: RampState | null;
  /** An endpoint update in flight. */
  readonly pending: PendingDeployment | null;
  /** The endpoint config the endpoint runs (as of the last write). */
  readonly endpointConfigName: string;
  /** Highest package version the loop has deployed: each version gets one chance, in order. */
  readonly highestVersionDeployed: number;
  /**
   * Traffic shares as the loop set them, challenger first (the order in which a sticky assignment
   * moves the fewest users when the challenger grows; see constructs/serving/runtime/variant.ts).
   */
  readonly trafficWeights: readonly VariantWeight[];
  /** When the item was last written (ISO 8601). */
  readonly updatedAt: string;
}

/** The weights a state implies: the challenger's ramp share, the champion the rest. */
export function trafficWeightsOf(state: Pick<ReleaseState, 'champion' | 'challenger' | 'ramp'>): VariantWeight[] {
  if (state.challenger === null || state.ramp === null) return [{ variantName: state.champion.variantName, weight: 100 }];
  const challenger = state.ramp.challengerPercent;
  return [
    { variantName: state.challenger.variantName, weight: challenger },
    { variantName: state.champion.variantName, weight: 100 - challenger },
  ];
}

/** A decision record: what was decided, by which handler, and whether the endpoint was changed. */
export interface DecisionRecordInput {
  /** e.g. `hold`, `ramp`, `promote`, `rollback`, `deploy-challenger`, `deployment-rolled-back`. */
  readonly action: string;
  /** The record itself (a RampDecision, or a release event), stored as JSON text. */
  readonly record: JsonValue;
  /** Whether the handler changed the endpoint as the record says. */
  readonly applied: boolean;
  /** Why it did not, or anything an auditor needs beside the record. */
  readonly note: string | null;
}

/** What the handlers need of the store (the tests substitute it where DynamoDB is not the subject). */
export interface ReleaseStore {
  load(endpointName: string): Promise<ReleaseState | null>;
  /** Writes `state` with version `expectedVersion + 1` if the stored version is still `expectedVersion`. */
  save(state: ReleaseState, expectedVersion: number): Promise<ReleaseState>;
  recordDecision(endpointName: string, at: Date, input: DecisionRecordInput): Promise<void>;
}

/** The store on DynamoDB. */
export class DynamoReleaseStore implements ReleaseStore {
  constructor(private readonly dynamodb: Pick<DynamoDBClient, 'send'>, private readonly settings: StoreSettings) {}

  async load(endpointName: string): Promise<ReleaseState | null> {
    const { partitionKey, sortKey, tableName } = this.settings;
    const response = await this.dynamodb.send(new GetItemCommand({
      TableName: tableName,
      Key: { [partitionKey]: { S: endpointName }, [sortKey]: { S: STATE_SORT_KEY } },
      // The state decides what to deploy: a stale read would undo a write that just happened.
      ConsistentRead: true,
    }));
    if (response.Item === undefined) return null;
    const { [partitionKey]: _pk, [sortKey]: _sk, ...rest } = fromAttributeMap(response.Item);
    return parseState({ ...rest, endpointName }, `release state of endpoint ${endpointName}`);
  }

  async save(state: ReleaseState, expectedVersion: number): Promise<ReleaseState> {
    const { partitionKey, sortKey, tableName } = this.settings;
    const next: ReleaseState = { ...state, version: expectedVersion + 1 };
    const { endpointName, ...attributes } = next;
    try {
      await this.dynamodb.send(new PutItemCommand({
        TableName: tableName,
        Item: {
          [partitionKey]: { S: endpointName },
          [sortKey]: { S: STATE_SORT_KEY },
          ...toAttributeMap(attributes as unknown as { [key: string]: JsonValue }),
        },
        ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(#pk)' : '#version = :expected',
        ExpressionAttributeNames: expectedVersion === 0 ? { '#pk': partitionKey } : { '#version': 'version' },
        ExpressionAttributeValues: expectedVersion === 0 ? undefined : { ':expected': { N: String(expectedVersion) } },
      }));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        throw new ConflictError(`release state of endpoint ${endpointName} changed since version ${expectedVersion} was read; reload and retry`);
      }
      throw error;
    }
    return next;
  }

  async recordDecision(endpointName: string, at: Date, input: DecisionRecordInput): Promise<void> {
    const { partitionKey, sortKey, tableName, expiresAtAttribute, decisionRetentionDays } = this.settings;
    await this.dynamodb.send(new PutItemCommand({
      TableName: tableName,
      Item: {
        [partitionKey]: { S: endpointName },
        [sortKey]: { S: decisionSortKey(at, input.action) },
        action: { S: input.action },
        applied: { BOOL: input.applied },
        note: input.note === null ? { NULL: true } : { S: input.note },
        // JSON text, not a map: statistics can hold numbers outside DynamoDB's range (a p-value of
        // 1e-300), and an auditor replays the record with JSON.parse as the decision core wrote it.
        record: { S: JSON.stringify(input.record) },
        [expiresAtAttribute]: toAttribute(Math.floor(at.getTime() / 1000) + decisionRetentionDays * 86_400),
      },
    }));
  }
}

/** `decision#<iso time>#<action>`: sorted by time within the endpoint's partition. */
export function decisionSortKey(at: Date, action: string): string {
  return `${DECISION_PREFIX}${at.toISOString()}#${action}`;
}

type Fields = { readonly [key: string]: JsonValue | undefined };

/** Checks a stored item's shape; a broken item is reported with every bad field, never guessed around. */
export function parseState(value: Fields, what: string): ReleaseState {
  const problems: string[] = [];
  const str = (o: Fields, key: string, path: string): void => {
    if (typeof o[key] !== 'string' || o[key] === '') problems.push(`${path}.${key} must be a non-empty string`);
  };
  const num = (o: Fields, key: string, path: string, nullable = false): void => {
    const v = o[key];
    if (!(nullable && v === null) && !(typeof v === 'number' && Number.isFinite(v))) problems.push(`${path}.${key} must be a number${nullable ? ' or null' : ''}`);
  };
  const obj = (v: JsonValue | undefined, path: string, nullable: boolean): Fields | null => {
    if (v === null && nullable) return null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${path} must be an object${nullable ? ' or null' : ''}`);
      return null;
    }
    return v as Fields;
  };
  const served = (v: JsonValue | undefined, path: string, nullable: boolean): Fields | null => {
    const o = obj(v, path, nullable);
    if (o === null) return null;
    str(o, 'modelPackageArn', path);
    num(o, 'modelPackageVersion', path, true);
    if (!isSageMakerName(o.modelName)) problems.push(`${path}.modelName must be a SageMaker name`);
    if (!isSageMakerName(o.variantName)) problems.push(`${path}.variantName must be a SageMaker name`);
    return o;
  };
  served(value.champion, 'champion', false);
  const challenger = served(value.challenger, 'challenger', true);
  if (challenger !== null) str(challenger, 'experimentStartedAt', 'challenger');
  const ramp = obj(value.ramp, 'ramp', true);
  if (ramp !== null) {
    num(ramp, 'challengerPercent', 'ramp');
    num(ramp, 'challengerUsersAtStepStart', 'ramp');
  }
  if ((challenger === null) !== (ramp === null)) problems.push('challenger and ramp must be both set or both null');
  const pending = obj(value.pending, 'pending', true);
  if (pending !== null) {
    if (pending.role !== 'challenger' && pending.role !== 'champion') problems.push('pending.role must be challenger or champion');
    served(pending.model, 'pending.model', false);
    str(pending, 'endpointConfigName', 'pending');
    str(pending, 'previousEndpointConfigName', 'pending');
    str(pending, 'requestedAt', 'pending');
  }
  num(value, 'version', '');
  num(value, 'highestVersionDeployed', '');
  str(value, 'endpointConfigName', '');
  str(value, 'updatedAt', '');
  if (!Array.isArray(value.trafficWeights)) problems.push('.trafficWeights must be a list');
  if (problems.length > 0) throw new ReleaseInputError(`${what} is invalid: ${problems.map((p) => p.replace(/^\./, '')).join('; ')}`);
  return value as unknown as ReleaseState;
}
