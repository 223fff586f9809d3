/**
 * Erasure over every blueprint: each store classified as personal data is in the lake's erasure
 * registry or exempt with a reason, and each registry is what its blueprint's stores call for.
 * Synthesized once for all ten blueprints (without the gate, which the blueprints' own tests run).
 */
import { synthAllBlueprints } from '../support/blueprint';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PredictionCache } from '../../constructs/batch-transform';
import { AUTOMATED_KINDS, DataLake, ERASURE_REGISTRY_METADATA } from '../../constructs/data-lake';
import { Network } from '../../constructs/network';
import { CLASSIFICATION_TAGS, ERASURE_METADATA, MIN_EXEMPTION_REASON_LENGTH, PERSONAL_DATA_CATEGORIES } from '../../lib/classification';
import { SIZING_METADATA } from '../../lib/sizing';
import { kitApp } from '../support/app';

// Templates are read as CloudFormation JSON; their shapes vary by resource type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, any> };
type Resources = Record<string, Resource>;
/** A registry entry as the workflow reads it (see storeSpec). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type StoreSpec = { name: string; kind: string; automated: boolean; identifier?: string; [field: string]: any };

const templates: [string, Resources][] = synthAllBlueprints().map(({ stack, resources }) => [stack.stackName, resources as Resources]);

/** The data category a resource's tags declare, if any (tags are a list, or a map on some types). */
function categoryOf(resource: Resource): string | undefined {
  const tags = resource.Properties?.Tags;
  if (Array.isArray(tags)) return tags.find((t: { Key: string }) => t.Key === CLASSIFICATION_TAGS.category)?.Value;
  return tags?.[CLASSIFICATION_TAGS.category];
}

function registryOf(resources: Resources): StoreSpec[] {
  const holders = Object.values(resources).filter((r) => r.Metadata?.[ERASURE_REGISTRY_METADATA] !== undefined);
  expect(holders).toHaveLength(1);
  return holders[0].Metadata![ERASURE_REGISTRY_METADATA];
}

/** Resources classified as personal data that are neither in the registry nor exempt with a reason. */
function uncoveredPersonalStores(resources: Resources): string[] {
  const registered = new Set(registryOf(resources).map((s) => s.name));
  return Object.entries(resources).filter(([, r]) => PERSONAL_DATA_CATEGORIES.includes(categoryOf(r) as never)).filter(([, r]) => {
    const stores: string[] = r.Metadata?.[ERASURE_METADATA.stores] ?? [];
    const exempt: unknown = r.Metadata?.[ERASURE_METADATA.exempt];
    return !(stores.length > 0 && stores.every((s) => registered.has(s))) && !(typeof exempt === 'string' && exempt.length >= MIN_EXEMPTION_REASON_LENGTH);
  }).map(([id, r]) => `${id} (${r.Type}, ${categoryOf(r)})`);
}

test.each(templates)('%s: every personal store is in the erasure registry or exempt with a reason', (_name, resources) => {
  expect(Object.values(resources).filter((r) => PERSONAL_DATA_CATEGORIES.includes(categoryOf(r) as never)).length).toBeGreaterThan(0);
  expect(uncoveredPersonalStores(resources)).toEqual([]);
});

test('the check finds a personal store that nothing registers', () => {
  const app = kitApp();
  const stack = new Stack(app, 'Unregistered', { env: { region: 'eu-west-1', account: '123456789012' } });
  const lake = new DataLake(stack, 'Lake', { network: new Network(stack, 'Network'), purpose: 'p' });
  // A prediction cache that no BatchTransform writes: nobody tells the lake what it is keyed by.
  new PredictionCache(stack, 'Orphan', { encryptionKey: lake.encryptionKey, purpose: 'p' });
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  expect(uncoveredPersonalStores(resources)).toEqual([expect.stringMatching(/^Orphan[0-9A-F]{8} \(AWS::DynamoDB::Table, pseudonymized\)$/)]);
});

test.each(templates)('%s: the registry lists its stores, automated or manual, by identifier', (_name, resources) => {
  const registry = registryOf(resources);
  expect(registry.map((s) => `${s.automated ? 'automated' : 'manual'} ${s.kind} ${s.name}${s.identifier ? ` by ${s.identifier}` : ''}`)).toMatchSnapshot();
  expect(registry.filter((s) => s.automated !== AUTOMATED_KINDS.includes(s.kind as never))).toEqual([]);
  // Every manual store says where its data is (names CloudFormation fills in) and why it is not automated.
  expect(registry.filter((s) => !s.automated && !(s.location !== undefined && typeof s.reason === 'string' && s.reason.length >= 40))).toEqual([]);
});

test('every blueprint states the volume of each raw dataset its raw eraser reads: the eraser is sized from them all', () => {
  const sized = templates.flatMap(([stack, resources]) => {
    const raw = registryOf(resources).find((s) => s.kind === 'rawObjects');
    const datasets: string[] = (raw?.config?.datasets ?? []).map((d: { name: string }) => d.name);
    if (datasets.length === 0) return [];
    const lines: string[] = Object.values(resources).flatMap((r) => (Array.isArray(r.Metadata?.[SIZING_METADATA]) ? r.Metadata![SIZING_METADATA] : []));
    const counted = lines.find((line) => line.startsWith('raw rows per day of the datasets the eraser reads'));
    // A dataset without a volume is named "not counted" in this line; an eraser sized from none has no line.
    expect([stack, counted]).toEqual([stack, expect.not.stringContaining('not counted')]);
    expect([stack, datasets.filter((d) => !counted!.includes(`${d} `))]).toEqual([stack, []]);
    return [stack];
  });
  // Street View blurring's datasets hold no subject: the other nine have a raw eraser.
  expect(sized).toHaveLength(9);
});
