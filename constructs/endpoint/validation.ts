import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import { Duration, Token } from 'aws-cdk-lib';
import type { DataCaptureOptions, EndpointAlarmOptions, RealtimeEndpointProps, ShadowVariantOptions, VariantOptions } from './realtime-endpoint';
import { DEFAULT_ALARM_EVALUATION_PERIODS, GUARDRAIL_WAIT_RANGE } from './defaults';
import { endpointFiguresProblems } from '../../lib/sizing';
import { PropRule, ruleProblems } from '../../lib/validation';

/** SageMaker's pattern for endpoint and variant names: 1-63 letters, digits and hyphens, no leading or trailing hyphen. */
export const NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** A MIME type as SageMaker accepts it in CaptureContentTypeHeader. */
const CONTENT_TYPE = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$/;
/** Most content types per list in CaptureContentTypeHeader. */
const MAX_CONTENT_TYPES = 10;

/** A variant with the prop path its messages name (`variants.challenger`). */
export interface LabelledVariant {
  readonly label: string;
  readonly options: VariantOptions | ShadowVariantOptions;
}

function known(value: unknown): boolean {
  return value !== undefined && !Token.isUnresolved(value);
}

function isPositive(value: number | undefined): boolean {
  return value !== undefined && Number.isFinite(value) && value > 0;
}

function isWholeFrom(value: number | undefined, min: number): boolean {
  return value !== undefined && Number.isInteger(value) && value >= min;
}

function tokenMessage(label: string, prop: string, why: string): string {
  return `${label}.${prop} must be known at synth time, because ${why}, but a token was provided`;
}

/** What a variant rule checks: the variant (any kind, so one table covers all three) and its prop path. */
interface CheckedVariant {
  readonly label: string;
  readonly variant: VariantOptions & ShadowVariantOptions;
}

const VARIANT_RULES: readonly PropRule<CheckedVariant>[] = [
  {
    condition: ({ variant: v }) => known(v.name) && !NAME_PATTERN.test(v.name),
    message: ({ variant: v, label: l }) => `${l}.name must be 1-63 letters, digits and hyphens, without a leading or trailing hyphen, but '${v.name}' was provided`,
  },
  {
    condition: ({ variant: v }) => v.instanceType !== undefined && Token.isUnresolved(v.instanceType),
    message: ({ label: l }) => tokenMessage(l, 'instanceType', 'whether the endpoint config may carry a KMS key depends on it (local NVMe instance storage)'),
  },
  {
    condition: ({ variant: v }) => !Token.isUnresolved(v.instanceType) && (typeof v.instanceType !== 'string' || instanceTypeProblem('instanceType', v.instanceType, 'endpoint', 'ml.m5.xlarge') !== undefined),
    message: ({ variant: v, label: l }) => instanceTypeProblem(`${l}.instanceType`, String(v.instanceType), 'endpoint', 'ml.m5.xlarge or ml.g5.xlarge')!,
  },
  {
    condition: ({ variant: v }) => v.initialWeight !== undefined && Token.isUnresolved(v.initialWeight),
    message: ({ label: l }) => tokenMessage(l, 'initialWeight', 'each variant\'s share of traffic sizes its fleet'),
  },
  {
    condition: ({ variant: v }) => v.initialWeight !== undefined && !Token.isUnresolved(v.initialWeight) && !isPositive(v.initialWeight),
    message: ({ variant: v, label: l }) => `${l}.initialWeight must be a number above 0, but ${v.initialWeight} was provided`,
  },
  {
    condition: ({ variant: v }) => v.samplingPercentage !== undefined && Token.isUnresolved(v.samplingPercentage),
    message: ({ label: l }) => tokenMessage(l, 'samplingPercentage', 'it sets the shadow variant\'s weight and sizes its fleet'),
  },
  {
    condition: ({ variant: v }) => known(v.samplingPercentage) && !(isWholeFrom(v.samplingPercentage, 1) && v.samplingPercentage! <= 100),
    message: ({ variant: v, label: l }) => `${l}.samplingPercentage must be a whole number from 1 to 100, but ${v.samplingPercentage} was provided`,
  },
  {
    condition: ({ variant: v }) => v.perInstanceThroughputQps !== undefined && Token.isUnresolved(v.perInstanceThroughputQps),
    message: ({ label: l }) => tokenMessage(l, 'perInstanceThroughputQps', 'the instance counts and scaling targets are computed from it'),
  },
  {
    condition: ({ variant: v }) => known(v.perInstanceThroughputQps) && !isPositive(v.perInstanceThroughputQps),
    message: ({ variant: v, label: l }) => `${l}.perInstanceThroughputQps must be a number of requests per second above 0, but ${v.perInstanceThroughputQps} was provided`,
  },
  ...(['minCapacity', 'maxCapacity'] as const).flatMap((prop): PropRule<CheckedVariant>[] => [
    {
      condition: ({ variant: v }) => v[prop] !== undefined && Token.isUnresolved(v[prop]),
      message: ({ label: l }) => tokenMessage(l, prop, 'the initial instance count lies between min and max capacity'),
    },
    {
      condition: ({ variant: v }) => known(v[prop]) && !isWholeFrom(v[prop], 1),
      message: ({ variant: v, label: l }) => `${l}.${prop} must be a whole number of at least 1, but ${v[prop]} was provided`,
    },
  ]),
  {
    condition: ({ variant: v }) => v.maxTrafficShare !== undefined && Token.isUnresolved(v.maxTrafficShare),
    message: ({ label: l }) => tokenMessage(l, 'maxTrafficShare', 'the autoscaling maximum is sized from it'),
  },
  {
    condition: ({ variant: v }) => known(v.maxTrafficShare) && !(Number.isFinite(v.maxTrafficShare) && v.maxTrafficShare! > 0 && v.maxTrafficShare! <= 1),
    message: ({ variant: v, label: l }) => `${l}.maxTrafficShare must be a share above 0 and at most 1, but ${v.maxTrafficShare} was provided`,
  },
  {
    condition: ({ variant: v }) => isWholeFrom(v.minCapacity, 1) && isWholeFrom(v.maxCapacity, 1) && v.maxCapacity! < v.minCapacity!,
    message: ({ variant: v, label: l }) => `${l}.maxCapacity must be at least minCapacity (${v.minCapacity}), but ${v.maxCapacity} was provided`,
  },
];

function repeated(values: readonly string[]): string[] {
  return [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];
}

function contentTypeProblems(label: string, types: readonly string[] | undefined): string[] {
  if (types === undefined || Token.isUnresolved(types)) {
    return [];
  }
  const problems: string[] = [];
  if (types.length === 0 || types.length > MAX_CONTENT_TYPES) {
    problems.push(`${label} must list 1 to ${MAX_CONTENT_TYPES} content types, but ${types.length} were provided`);
  }
  const bad = types.filter((t) => known(t) && !CONTENT_TYPE.test(t));
  if (bad.length > 0) {
    problems.push(`${label} must be MIME types such as text/csv or application/json, but ${bad.map((t) => `'${t}'`).join(', ')} was provided`);
  }
  return problems;
}

/** The variants of the props, labelled by their prop path; the champion first. */
export function labelledVariants(props: RealtimeEndpointProps): LabelledVariant[] {
  const v = props.variants ?? {};
  return [
    ...(v.champion ? [{ label: 'variants.champion', options: v.champion }] : []),
    ...(v.challenger ? [{ label: 'variants.challenger', options: v.challenger }] : []),
    ...(v.shadow ? [{ label: 'variants.shadow', options: v.shadow }] : []),
  ];
}

/** The endpoint's own props and the shape of its variants. */
const ENDPOINT_RULES: readonly PropRule<RealtimeEndpointProps>[] = [
  {
    condition: (p) => known(p.endpointName) && !NAME_PATTERN.test(p.endpointName!),
    message: (p) => `endpointName must be 1-63 letters, digits and hyphens, without a leading or trailing hyphen, but '${p.endpointName}' was provided`,
  },
  {
    condition: (p) => p.variants?.champion === undefined,
    message: (p) => {
      const given = labelledVariants(p).map((v) => v.label.replace('variants.', ''));
      return `variants.champion is required (the variant that serves production traffic), but ${given.length > 0 ? `only ${given.join(' and ')} was` : 'no variant was'} provided`;
    },
  },
  {
    condition: (p) => p.variants?.shadow !== undefined && p.variants?.challenger !== undefined,
    message: () => 'variants.shadow cannot be combined with variants.challenger: SageMaker allows a single production variant on an endpoint with a shadow variant, '
      + 'but both were provided (run the A/B test and the shadow test one after the other)',
  },
];

function variantNamesRepeated(p: RealtimeEndpointProps): string[] {
  return repeated(labelledVariants(p).map((v) => v.options.name).filter((n) => known(n)));
}

/** The variants together, and the figures that size them. */
const FLEET_RULES: readonly PropRule<RealtimeEndpointProps>[] = [
  {
    condition: (p) => variantNamesRepeated(p).length > 0,
    message: (p) => `variant names must be unique, but ${variantNamesRepeated(p).map((n) => `'${n}'`).join(', ')} was given to more than one of `
      + labelledVariants(p).map((v) => v.label).join(', '),
  },
  {
    condition: (p) => p.figures === undefined,
    message: () => 'figures is required: peakQps, latencyBudget and perInstanceThroughputQps size every variant',
  },
];

/** Data capture, when it is on. */
const CAPTURE_RULES: readonly PropRule<DataCaptureOptions>[] = [
  {
    condition: (c) => known(c.samplingPercentage) && !(isWholeFrom(c.samplingPercentage, 0) && c.samplingPercentage! <= 100),
    message: (c) => `dataCapture.samplingPercentage must be a whole number from 0 to 100, but ${c.samplingPercentage} was provided`,
  },
];

/** The endpoint's alarms (which also gate a guarded deployment). */
const ALARM_RULES: readonly PropRule<EndpointAlarmOptions>[] = [
  {
    condition: (a) => known(a.max5xxErrorsPerMinute) && !(Number.isFinite(a.max5xxErrorsPerMinute) && a.max5xxErrorsPerMinute! >= 0),
    message: (a) => `alarms.max5xxErrorsPerMinute must be a number of at least 0, but ${a.max5xxErrorsPerMinute} was provided`,
  },
  {
    condition: (a) => known(a.evaluationPeriods) && !isWholeFrom(a.evaluationPeriods, 1),
    message: (a) => `alarms.evaluationPeriods must be a whole number of at least 1, but ${a.evaluationPeriods} was provided`,
  },
  {
    condition: (a) => {
      const periods = a.evaluationPeriods ?? DEFAULT_ALARM_EVALUATION_PERIODS;
      return known(a.datapointsToAlarm) && !(isWholeFrom(a.datapointsToAlarm, 1) && (!known(periods) || a.datapointsToAlarm! <= periods));
    },
    message: (a) => `alarms.datapointsToAlarm must be a whole number from 1 to evaluationPeriods (${a.evaluationPeriods ?? DEFAULT_ALARM_EVALUATION_PERIODS}), `
      + `but ${a.datapointsToAlarm} was provided`,
  },
];

/**
 * Every problem with the props, each naming the prop, what was received and what is allowed.
 * Tokens are skipped where the value can wait until deploy time; instance types, weights and the
 * sizing figures cannot, because the key decision and the fleet sizes are made at synth time.
 */
export function validateEndpointProps(props: RealtimeEndpointProps, region: string | undefined): string[] {
  const problems = ruleProblems(ENDPOINT_RULES, props);
  for (const { label, options } of labelledVariants(props)) {
    const v = options as VariantOptions & ShadowVariantOptions;
    problems.push(...ruleProblems(VARIANT_RULES, { label, variant: v }));
    problems.push(...(v.model === undefined ? [`${label}.model is required`] : v.model.problems(region).map((p) => `${label}.model: ${p}`)));
  }
  problems.push(...ruleProblems(FLEET_RULES, props));
  if (props.figures !== undefined) {
    problems.push(...endpointFiguresProblems(props.figures).map((p) => `figures.${p}`));
  }
  const capture = props.dataCapture;
  if (capture !== undefined && capture.enabled !== false) {
    problems.push(...ruleProblems(CAPTURE_RULES, capture));
    problems.push(...contentTypeProblems('dataCapture.captureContentTypes.csv', capture.captureContentTypes?.csv));
    problems.push(...contentTypeProblems('dataCapture.captureContentTypes.json', capture.captureContentTypes?.json));
  }
  problems.push(...ruleProblems(ALARM_RULES, props.alarms ?? {}));
  const deployment = props.deployment;
  if (deployment !== undefined && deployment.guarded !== false) {
    problems.push(...ruleProblems(DEPLOYMENT_RULES, { deployment, periods: props.alarms?.evaluationPeriods ?? DEFAULT_ALARM_EVALUATION_PERIODS }));
  }
  return problems;
}

function durationSeconds(d: Duration | undefined): number | undefined {
  return d === undefined || d.isUnresolved() ? undefined : d.toSeconds({ integral: false });
}

/** A guarded deployment's settings, with the alarms' evaluation periods they must cover. */
interface CheckedDeployment {
  readonly deployment: NonNullable<RealtimeEndpointProps['deployment']>;
  readonly periods: number;
}

const DEPLOYMENT_RULES: readonly PropRule<CheckedDeployment>[] = [
  {
    condition: ({ deployment: d }) => known(d.canaryPercent) && !(isWholeFrom(d.canaryPercent, 1) && d.canaryPercent! <= 50),
    message: ({ deployment: d }) => `deployment.canaryPercent must be a whole number from 1 to 50 (the share of the new fleet that takes traffic first), but ${d.canaryPercent} was provided`,
  },
  {
    condition: ({ deployment: d, periods }) => {
      const bake = durationSeconds(d.bakeTime);
      return bake !== undefined && (!Number.isInteger(bake) || bake > GUARDRAIL_WAIT_RANGE.max || (known(periods) && bake < periods * 60));
    },
    message: ({ deployment: d, periods }) => `deployment.bakeTime must be a whole number of seconds from the alarms' ${periods} one-minute evaluation periods (${periods * 60} s) `
      + `to ${GUARDRAIL_WAIT_RANGE.max} s (1 hour), so that an alarm can go off before the rest shifts, but ${d.bakeTime!.toHumanString()} was provided`,
  },
  {
    condition: ({ deployment: d }) => {
      const termination = durationSeconds(d.terminationWait);
      return termination !== undefined && (!Number.isInteger(termination) || termination < GUARDRAIL_WAIT_RANGE.min || termination > GUARDRAIL_WAIT_RANGE.max);
    },
    message: ({ deployment: d }) => `deployment.terminationWait must be a whole number of seconds from ${GUARDRAIL_WAIT_RANGE.min} to ${GUARDRAIL_WAIT_RANGE.max} (1 hour), `
      + `but ${d.terminationWait!.toHumanString()} was provided`,
  },
];
