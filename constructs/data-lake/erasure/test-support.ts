/**
 * A stack for the erasure tests: a lake with a dataset (a user id, a friend id that is also a user
 * id, a pseudonymized post id that is no subject), a prediction cache keyed by user, a cache of
 * pairs whose sort key (a candidate) is a user too, indexed, a cache nobody registers, a feature
 * group keyed by user and the feature store's online cache in front of it, a feature group keyed by
 * post whose author is a user, and a vector index whose documents hold their owner's user id. Its erasure definition is
 * parsed with CloudFormation references written as the referenced logical id (`Ref`) or
 * `<logical id>.<attribute>` (`Fn::GetAtt`), so that a test can run it against local tables named
 * after the logical ids.
 */
import { CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Template } from 'aws-cdk-lib/assertions';
import { ERASURE_REGISTRY_METADATA } from './erasure';
import { DataLake, DataLakeProps } from '../data-lake';
import { RowRetention } from '../maintenance';
import { ColumnAction, ColumnClassification } from '../schema';
import { PredictionCache } from '../../batch-transform';
import { FeatureStore, FeatureType } from '../../feature-store';
import { Network } from '../../network';
import { VectorIndex } from '../../vector-index';
import { kitApp } from '../../../test/support/app';

// Definitions and templates are CloudFormation JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const FIXTURE_ENV = { region: 'eu-west-1', account: '123456789012' } as const;

export function erasureFixture(props: Partial<DataLakeProps> = {}) {
  const app = kitApp();
  const stack = new Stack(app, 'Erasure', { env: FIXTURE_ENV });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'recommendations', ...props });
  const C = ColumnClassification;
  const A = ColumnAction;
  lake.addDataset('events', {
    retention: RowRetention.byTimeColumn('seen_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'friend_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, subjectIdentifier: 'user_id' },
      { name: 'post_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'score', type: 'double', classification: C.NON_PERSONAL },
      { name: 'seen_at', type: 'timestamp', classification: C.NON_PERSONAL },
    ],
  });
  const predictions = (id: string, sortKey?: string) => new PredictionCache(stack, id, { encryptionKey: lake.encryptionKey, purpose: 'recommendations', sortKey });
  const cache = predictions('Cache').table;
  const pairsCache = predictions('Pairs', 'candidate');
  const pairs = pairsCache.table;
  const other = predictions('Other').table;
  // A cache a batch transform fills, whose runs can write a subject's predictions after the first sweep.
  lake.registerErasable(cache, {
    kind: 'dynamoDbItems', name: 'dynamodb:cache', identifier: 'user_id', table: cache, partitionKey: 'pk', encryptionKey: lake.encryptionKey, resources: [cache],
    lateWritesWithin: Duration.hours(20),
  });
  lake.registerErasable(pairs, {
    kind: 'dynamoDbItems', name: 'dynamodb:pairs', identifier: 'user_id', table: pairs, partitionKey: 'pk', sortKey: 'candidate', encryptionKey: lake.encryptionKey, resources: [pairs],
  });
  // The candidate of a pair is a user too: the index on the sort key finds the pairs that suggest the subject.
  lake.registerErasable(pairs, {
    kind: 'dynamoDbItemsByAttribute', name: 'dynamodb:pairs:candidate', identifier: 'user_id', table: pairs, attribute: 'candidate', indexName: pairsCache.indexSortKey(),
    partitionKey: 'pk', sortKey: 'candidate', encryptionKey: lake.encryptionKey, resources: [pairs],
  });
  const features = new FeatureStore(stack, 'Features', { lake, network, purpose: 'recommendations' });
  const { featureGroup } = features.addFeatureGroup({
    name: 'user-activity',
    recordIdentifier: 'user_id',
    eventTime: 'event_time',
    features: [
      { name: 'user_id', type: FeatureType.STRING },
      { name: 'event_time', type: FeatureType.STRING },
      { name: 'clicks', type: FeatureType.INTEGRAL },
    ],
    streaming: { pseudonymizeFields: ['user_id'] },
  });
  // Keyed by post, the author a user: its online records are found through its offline store.
  const { featureGroup: postFeatures } = features.addFeatureGroup({
    name: 'post-features',
    recordIdentifier: 'post_id',
    eventTime: 'event_time',
    features: [
      { name: 'post_id', type: FeatureType.STRING },
      { name: 'author_id', type: FeatureType.STRING },
      { name: 'event_time', type: FeatureType.STRING },
      { name: 'likes', type: FeatureType.INTEGRAL },
    ],
    subjectFeatures: { author_id: 'user_id' },
  });
  const listings = new VectorIndex(stack, 'Listings', {
    collectionName: 'erasure-listings', network, encryptionKey: lake.encryptionKey, purpose: 'recommendations', retention: Duration.days(30),
  });
  lake.registerErasable(listings, {
    kind: 'vectorIndexDocuments', name: 'opensearch:listings.owner_id', identifier: 'user_id', index: listings, indexName: 'listings', field: 'owner_id', resources: [listings.collection],
  });
  const onlineCache = features.addOnlineCache();
  return { app, stack, lake, cache, pairs, pairsCache, other, featureGroup, postFeatures, listings, onlineCache };
}

/** The logical id of the resource a construct stands for (itself or its default child). */
export function logicalIdOf(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).resolve(Stack.of(construct).getLogicalId(element));
}

/** `{ Ref: id }` becomes `id`, `Fn::GetAtt` `<id>.<attribute>`, a Fn::Join of such parts the joined text. */
export function dereference(value: Json): Json {
  if (Array.isArray(value)) return value.map(dereference);
  if (value === null || typeof value !== 'object') return value;
  if (value.Ref !== undefined) return value.Ref;
  if (value['Fn::GetAtt'] !== undefined) return value['Fn::GetAtt'].join('.');
  if (value['Fn::Join'] !== undefined) return value['Fn::Join'][1].map(dereference).join(value['Fn::Join'][0]);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, dereference(v)]));
}

/** A definition's text with references replaced as described above. */
export function definitionText(machine: Json): string {
  const body = machine.Properties.DefinitionString;
  if (typeof body === 'string') return body;
  return dereference(body);
}

/** The erasure workflow of a template: its resource, parsed definition and registry. */
export function erasureWorkflow(template: Template): { id: string; machine: Json; definition: Json; registry: Json[] } {
  const found = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
    .filter(([, m]) => m.Metadata?.[ERASURE_REGISTRY_METADATA] !== undefined);
  if (found.length !== 1) throw new Error(`expected one erasure workflow, found ${found.length}`);
  const [id, machine] = found[0];
  return { id, machine, definition: JSON.parse(definitionText(machine)), registry: machine.Metadata[ERASURE_REGISTRY_METADATA] };
}

/** The deadline check of a template, parsed. */
export function deadlineCheck(template: Template): Json {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter((m) => JSON.stringify(m).includes('ScanRequests'));
  return JSON.parse(definitionText(machine));
}

/** Every state of a definition, nested ones (Map, Parallel) included, by name. */
export function allStates(definition: Json): Record<string, Json> {
  const states: Record<string, Json> = {};
  const visit = (graph: Json) => {
    for (const [name, state] of Object.entries<Json>(graph.States)) {
      states[name] = state;
      if (state.ItemProcessor) visit(state.ItemProcessor);
      for (const branch of state.Branches ?? []) visit(branch);
    }
  };
  visit(definition);
  return states;
}
