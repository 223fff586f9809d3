import { App, Stack, Tags } from 'aws-cdk-lib';
import { OPTIONAL_PACKS_CONTEXT, applyComplianceGate } from '../compliance/gate';
import { DEFAULT_REGION, EXTRA_REGIONS_CONTEXT, allowedRegions, malformedRegions } from '../compliance/regions';
import { parseFlag, parseList } from '../context';
import { DESTROY_ON_REMOVAL_CONTEXT } from '../defaults/removal';
import { KitError } from '../errors';
import { BlueprintDefinition } from './blueprint';
import { checkPhysicalNames } from './physical-names';

/** Context key selecting one blueprint (`-c blueprint=<id>`). */
export const BLUEPRINT_CONTEXT = 'blueprint';
/** Context key naming the region every stack deploys to (`-c region=eu-central-1`). */
export const REGION_CONTEXT = 'region';

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /** The blueprints the app knows, in the order `cdk ls` lists them. */
  readonly blueprints: readonly BlueprintDefinition[];
  /**
   * Whether the compliance gate runs at synth. Only the benchmark turns it off, to measure what
   * the gate costs; `bin/app.ts` and the tests always keep it.
   * @default true
   */
  readonly complianceGate?: boolean;
}

function checkRegistry(blueprints: readonly BlueprintDefinition[]): void {
  for (const key of ['id', 'stackName', 'namePrefix'] as const) {
    const seen = new Set<string>();
    for (const b of blueprints) {
      if (seen.has(b[key])) {
        throw new KitError(`createApp: two blueprints share the ${key} '${b[key]}'; each needs its own`);
      }
      seen.add(b[key]);
    }
  }
}

function selectBlueprints(app: App, blueprints: readonly BlueprintDefinition[]): readonly BlueprintDefinition[] {
  const wanted = app.node.tryGetContext(BLUEPRINT_CONTEXT);
  if (wanted === undefined || wanted === '') {
    return blueprints;
  }
  const found = blueprints.find((b) => b.id === String(wanted));
  if (!found) {
    throw new KitError(`Unknown blueprint '${wanted}' in -c ${BLUEPRINT_CONTEXT}=...; valid ids: ${blueprints.map((b) => b.id).join(', ')}`);
  }
  return [found];
}

function resolveRegion(app: App): string {
  const extra = parseList(app.node.tryGetContext(EXTRA_REGIONS_CONTEXT));
  const malformed = malformedRegions(extra);
  if (malformed.length > 0) {
    throw new KitError(`-c ${EXTRA_REGIONS_CONTEXT}=... must list AWS region names such as eu-west-2, but got: ${malformed.join(', ')}`);
  }
  const region = String(app.node.tryGetContext(REGION_CONTEXT) ?? DEFAULT_REGION);
  const allowed = allowedRegions(app);
  if (!allowed.includes(region)) {
    throw new KitError(`Region '${region}' is outside the data-residency allow-list (${allowed.join(', ')}). `
      + `Deploy to one of those with -c ${REGION_CONTEXT}=<region>, or, if personal data may lawfully be stored there, `
      + `extend the list explicitly with -c ${EXTRA_REGIONS_CONTEXT}=${region} (or in cdk.json "context").`);
  }
  return region;
}

/** Yes/no context keys the kit reads. */
const FLAG_CONTEXTS = [DESTROY_ON_REMOVAL_CONTEXT] as const;

function checkFlags(app: App): void {
  for (const key of FLAG_CONTEXTS) {
    const value: unknown = app.node.tryGetContext(key);
    if (parseFlag(value) === 'invalid') {
      throw new KitError(`-c ${key} must be true or false, but '${String(value)}' was provided`);
    }
  }
}

/**
 * Builds the kit's app: one stack per registered blueprint (or the one chosen with
 * `-c blueprint=<id>`), all in one allow-listed region, behind the compliance gate.
 * `bin/app.ts` and the tests both call it, so tests synthesize what `cdk deploy` deploys.
 */
export function createApp(app: App, options: CreateAppOptions): Stack[] {
  checkRegistry(options.blueprints);
  checkFlags(app);
  const region = resolveRegion(app);
  const selected = selectBlueprints(app, options.blueprints);
  const packs = parseList(app.node.tryGetContext(OPTIONAL_PACKS_CONTEXT));
  if (options.complianceGate ?? true) {
    applyComplianceGate(app, packs);
  }
  const stacks = selected.map((blueprint) => {
    const stack = blueprint.create(app, blueprint.stackName, {
      stackName: blueprint.stackName,
      description: blueprint.description,
      env: { region, account: process.env.CDK_DEFAULT_ACCOUNT },
    });
    Tags.of(stack).add('mlsd:blueprint', blueprint.id);
    return stack;
  });
  checkPhysicalNames(app);
  return stacks;
}
