import { Duration, Token } from 'aws-cdk-lib';

/** Feature value types of SageMaker Feature Store. */
export enum FeatureType {
  STRING = 'String',
  INTEGRAL = 'Integral',
  FRACTIONAL = 'Fractional',
}

/** One feature of a feature group. */
export interface FeatureDefinition {
  /** Feature name: letters, digits, `-` and `_`, at most 64 characters. */
  readonly name: string;
  readonly type: FeatureType;
}

/** Names SageMaker Feature Store reserves for its own columns. */
export const RESERVED_FEATURE_NAMES: readonly string[] = ['is_deleted', 'write_time', 'api_invocation_time'];

/** The online store's TTL in the largest whole unit CloudFormation accepts. */
export function ttlDuration(ttl: Duration): { Unit: string; Value: number } {
  const seconds = ttl.toSeconds();
  for (const [unit, size] of [['Weeks', 604800], ['Days', 86400], ['Hours', 3600], ['Minutes', 60]] as const) {
    if (seconds % size === 0) {
      return { Unit: unit, Value: seconds / size };
    }
  }
  return { Unit: 'Seconds', Value: seconds };
}

const NAME = /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/;
const GROUP_NAME = /^[a-z0-9]([-_]*[a-z0-9]){0,63}$/;

/** What a feature group definition gets wrong, each problem naming the prop and what is allowed. */
export function featureGroupProblems(def: {
  name: string; recordIdentifier: string; eventTime: string; features: readonly FeatureDefinition[];
  onlineStore: boolean; offlineStore: boolean; onlineTtl?: Duration;
}): string[] {
  const problems: string[] = [];
  // Lower case only: SageMaker writes feature group names in lower case into ARNs, which IAM compares exactly.
  if (!Token.isUnresolved(def.name) && !GROUP_NAME.test(def.name)) {
    problems.push(`name must be 1-64 lower case letters, digits, - or _, starting and ending with a letter or digit, but '${def.name}' was provided`);
  }
  if (def.features.length === 0 || def.features.length > 2500) {
    problems.push(`features must list 1 to 2500 features, but ${def.features.length} were provided`);
  }
  const byName = new Map<string, FeatureDefinition>();
  for (const f of def.features) {
    if (!NAME.test(f.name)) {
      problems.push(`feature '${f.name}': name must be 1-64 letters, digits, - or _`);
    }
    if (RESERVED_FEATURE_NAMES.includes(f.name.toLowerCase())) {
      problems.push(`feature '${f.name}': the name is reserved by SageMaker Feature Store (${RESERVED_FEATURE_NAMES.join(', ')})`);
    }
    if (byName.has(f.name)) {
      problems.push(`feature '${f.name}' is declared twice`);
    }
    if (!Object.values(FeatureType).includes(f.type)) {
      problems.push(`feature '${f.name}': type must be one of ${Object.values(FeatureType).join(', ')}, but '${f.type}' was provided`);
    }
    byName.set(f.name, f);
  }
  const id = byName.get(def.recordIdentifier);
  if (!id) {
    problems.push(`recordIdentifier '${def.recordIdentifier}' must be one of the features (${[...byName.keys()].join(', ')})`);
  } else if (id.type === FeatureType.FRACTIONAL) {
    problems.push(`recordIdentifier '${def.recordIdentifier}' must be a String or Integral feature, but it is Fractional`);
  }
  const time = byName.get(def.eventTime);
  if (!time) {
    problems.push(`eventTime '${def.eventTime}' must be one of the features (${[...byName.keys()].join(', ')})`);
  } else if (time.type === FeatureType.INTEGRAL) {
    problems.push(`eventTime '${def.eventTime}' must be a String (ISO-8601) or Fractional (epoch seconds) feature, but it is Integral`);
  }
  if (!def.onlineStore && !def.offlineStore) {
    problems.push('at least one of onlineStore and offlineStore must be enabled');
  }
  if (def.onlineTtl !== undefined) {
    const seconds = def.onlineTtl.toSeconds({ integral: false });
    if (!def.onlineStore) {
      problems.push('onlineTtl is set but the online store is disabled');
    } else if (!Number.isInteger(seconds) || seconds < 60) {
      problems.push(`onlineTtl must be a whole number of seconds, at least one minute, but ${seconds} seconds was provided`);
    }
  }
  return problems;
}
