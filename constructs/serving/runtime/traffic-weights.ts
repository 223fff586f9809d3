/**
 * The production variants' weights a rank stage assigns subjects by, as the release loop sets them
 * at run time (constructs/release: the state item's `trafficWeights`, written when the ramp
 * controller moves the endpoint's weights). Without this the endpoint's weights would move and the
 * per-subject assignment would not: an A/B ramp would change nothing the users see.
 *
 * Read per container at most every `refreshSeconds`, in the background: a request never waits for
 * DynamoDB. Until the first read succeeds, and whenever a read fails or returns something unusable,
 * the weights of the config (the template's initial ones) or the last good read apply. The serve
 * and the feedback routes read the same object, so both credit a subject to the same variant.
 */
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { RankStage } from './contract';
import type { ServingDeps } from './deps';

/** The state item's key and attribute, as constructs/release/runtime/release-state.ts writes them. */
export const RELEASE_STATE_PARTITION_KEY = 'pk';
export const RELEASE_STATE_SORT_KEY = 'sk';
export const RELEASE_STATE_ITEM = 'state';
export const RELEASE_WEIGHTS_ATTRIBUTE = 'trafficWeights';
/** A failed read is tried again after this long, not at every request. */
const RETRY_AFTER_FAILURE_MS = 10_000;
const READ_TIMEOUT_MS = 1_000;

export type Variants = readonly { readonly name: string; readonly weight: number }[];

interface Entry {
  variants: Variants;
  nextReadAt: number;
  reading?: Promise<void>;
}

export interface TrafficWeights {
  /** The variants and weights to assign by now; starts a background read when they are due. */
  variantsOf(stage: RankStage): Variants;
  /** Reads every stage's weights now (warm-up, tests). */
  refresh(): Promise<void>;
  /** Reads that failed or returned unusable weights since the last call (reported with the next request). */
  takeReadErrors(): number;
}

export function createTrafficWeights(stages: readonly RankStage[], deps: Pick<ServingDeps, 'dynamodb' | 'clock'>): TrafficWeights {
  const entries = new Map<string, Entry>();
  let readErrors = 0;
  for (const stage of stages) entries.set(stage.name, { variants: stage.variants, nextReadAt: 0 });

  function read(stage: RankStage, entry: Entry): Promise<void> {
    const source = stage.trafficWeights;
    if (source === undefined) return Promise.resolve();
    entry.reading ??= (async () => {
      const now = deps.clock.now();
      try {
        const response = await deps.dynamodb.send(
          new GetItemCommand({
            TableName: source.tableName,
            Key: { [RELEASE_STATE_PARTITION_KEY]: { S: source.endpointKey }, [RELEASE_STATE_SORT_KEY]: { S: RELEASE_STATE_ITEM } },
            ProjectionExpression: '#weights',
            ExpressionAttributeNames: { '#weights': RELEASE_WEIGHTS_ATTRIBUTE },
          }),
          { abortSignal: AbortSignal.timeout(READ_TIMEOUT_MS) },
        );
        // No item yet: the release loop has not written a state, the template's weights stand.
        const attribute = response.Item?.[RELEASE_WEIGHTS_ATTRIBUTE];
        if (attribute !== undefined) {
          const variants = parseWeights(attribute, stage.variants);
          if (variants === undefined) readErrors += 1;
          else entry.variants = variants;
        }
        entry.nextReadAt = now + source.refreshSeconds * 1000;
      } catch {
        readErrors += 1;
        entry.nextReadAt = now + Math.min(RETRY_AFTER_FAILURE_MS, source.refreshSeconds * 1000);
      } finally {
        entry.reading = undefined;
      }
    })();
    return entry.reading;
  }

  return {
    variantsOf(stage: RankStage): Variants {
      const entry = entries.get(stage.name);
      if (entry === undefined) return stage.variants;
      if (stage.trafficWeights !== undefined && entry.reading === undefined && deps.clock.now() >= entry.nextReadAt) {
        void read(stage, entry);
      }
      return entry.variants;
    },
    async refresh(): Promise<void> {
      await Promise.all(stages.map((stage) => read(stage, entries.get(stage.name)!)));
    },
    takeReadErrors(): number {
      const count = readErrors;
      readErrors = 0;
      return count;
    },
  };
}

/**
 * `[{variantName, weight}]` (a DynamoDB list of maps), in the stored order (the challenger first:
 * see variant.ts) and naming only the stage's variants; weights finite, at least 0, some above 0.
 * Anything else is unusable: the caller keeps what it has.
 */
export function parseWeights(attribute: AttributeValue, known: Variants): Variants | undefined {
  if (attribute.L === undefined || attribute.L.length === 0) return undefined;
  const names = new Set(known.map((v) => v.name));
  const variants: { name: string; weight: number }[] = [];
  for (const item of attribute.L) {
    const name = item.M?.variantName?.S;
    const weight = item.M?.weight?.N === undefined ? Number.NaN : Number(item.M.weight.N);
    if (name === undefined || !names.has(name) || !Number.isFinite(weight) || weight < 0) return undefined;
    if (variants.some((v) => v.name === name)) return undefined;
    variants.push({ name, weight });
  }
  return variants.some((v) => v.weight > 0) ? variants : undefined;
}
