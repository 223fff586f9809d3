import { Duration, Token } from 'aws-cdk-lib';
import { LAMBDA_MAX_TIMEOUT, RAMP_OVERHEAD } from './defaults';
import { RampInputError, RampPolicyConfig, isSageMakerName, planExperiment } from './runtime';
import { PropRule, ruleProblems } from '../../lib/validation';

/** The props as the rules see them: defaults applied, the endpoint and the log read. */
export interface ResolvedReleaseProps {
  /** The endpoint's name as given (RealtimeEndpoint.physicalName). */
  readonly endpointName: string;
  readonly modelPackageGroupName: string;
  /** The lake's Glue database, and the log datasets' (they must be the same); undefined until the log is given. */
  readonly lakeDatabase: string;
  readonly logDatabase?: string;
  /** The outcomes the serving log accepts; undefined until the log is given. */
  readonly outcomes?: readonly string[];
  readonly outcome: string;
  readonly aggregate: string;
  readonly window: Duration;
  readonly lakeDelay: Duration;
  readonly queryTimeout: Duration;
  readonly guardrailWindow: Duration;
  readonly decisionRetention: Duration;
  readonly trafficWeightsRefresh: Duration;
  /** The ramp's config, with the endpoint's latency budget as the default p99 limit; undefined without an A/B test. */
  readonly ramp?: RampPolicyConfig;
  /** Whether `businessMetric` was given (an A/B test needs it with `ramp`). */
  readonly metricGiven: boolean;
  /** Whether the endpoint has a challenger variant (its versions are A/B tested). */
  readonly hasChallenger: boolean;
  /** Whether the endpoint's model changes go through SageMaker's deployment guardrails. */
  readonly guarded: boolean;
  /** The group of `releaseAfter`'s events, when it is given. */
  readonly releaseAfterGroup?: string;
}

type Unit = 'days' | 'hours' | 'minutes' | 'seconds';

/** The runtime's pattern of an outcome name (runtime/contract.ts). */
const OUTCOME_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The duration in `unit`, or undefined when it is a token (a token cannot be converted). */
function amount(d: Duration, unit: Unit): number | undefined {
  if (Token.isUnresolved(d.toSeconds({ integral: false }))) return undefined;
  switch (unit) {
    case 'days': return d.toDays({ integral: false });
    case 'hours': return d.toHours({ integral: false });
    case 'minutes': return d.toMinutes({ integral: false });
    default: return d.toSeconds({ integral: false });
  }
}

/** A rule on a Duration prop: known at synth time (it is written into the handlers' JSON), whole `unit`s in [min, max]. */
function durationRules(prop: string, get: (p: ResolvedReleaseProps) => Duration, unit: Unit, min: number, max: number): Rule[] {
  return [
    {
      condition: (p) => amount(get(p), unit) === undefined,
      message: () => `${prop} must be known at synth time, because the handlers read it from their environment, but a token was provided`,
    },
    {
      condition: (p) => {
        const v = amount(get(p), unit);
        return v !== undefined && !(Number.isInteger(v) && v >= min && v <= max);
      },
      message: (p) => `${prop} must be a whole number of ${unit} from ${min} to ${max}, but ${get(p).toHumanString()} was provided`,
    },
  ];
}

/** planExperiment's problems with the ramp config (the runtime's own rules, so that synth and run time agree). */
function rampProblems(ramp: RampPolicyConfig): string[] {
  try {
    planExperiment(ramp);
    return [];
  } catch (error) {
    if (error instanceof RampInputError) return error.problems.map((problem) => `ramp.${problem.message}`);
    throw error;
  }
}

interface Rule extends PropRule<ResolvedReleaseProps> {
  /** The rule judges the A/B test's props: it applies only when the release has one. */
  readonly abTest?: boolean;
}

/** Marks rules as the A/B test's. */
function ofAbTest(rules: readonly Rule[]): Rule[] {
  return rules.map((rule) => ({ ...rule, abTest: true }));
}

/** Each rule names the prop, what was received and what is allowed. */
const RULES: readonly Rule[] = [
  {
    condition: (p) => Token.isUnresolved(p.endpointName),
    message: () => 'endpoint must have a name known at synth time (RealtimeEndpoint endpointName), because the names of the models and endpoint '
      + 'configs the loop creates, and the IAM patterns that allow exactly those, derive from it, but a token was provided',
  },
  {
    condition: (p) => Token.isUnresolved(p.modelPackageGroupName),
    message: () => 'modelPackageGroupName must be known at synth time, because the event rule matches it and IAM names its packages in lower case, but a token was provided',
  },
  {
    condition: (p) => !Token.isUnresolved(p.modelPackageGroupName) && !isSageMakerName(p.modelPackageGroupName),
    message: (p) => `modelPackageGroupName must be a model package group name (1-63 letters, digits and hyphens), but '${p.modelPackageGroupName}' was provided`,
  },
  {
    condition: (p) => p.logDatabase !== undefined && !Token.isUnresolved(p.logDatabase) && !Token.isUnresolved(p.lakeDatabase) && p.logDatabase !== p.lakeDatabase,
    message: (p) => `log must be a serving log of the lake, whose database is ${p.lakeDatabase}, but its datasets are in ${p.logDatabase}`,
  },
  ...ofAbTest([
    {
      condition: (p) => !OUTCOME_NAME.test(p.outcome),
      message: (p) => `businessMetric.outcome must be an outcome name (1-64 letters, digits, _ and -), but '${p.outcome}' was provided`,
    },
    {
      condition: (p) => OUTCOME_NAME.test(p.outcome) && p.outcomes !== undefined && !p.outcomes.includes(p.outcome),
      message: (p) => `businessMetric.outcome must be one of the serving log's outcomes (${p.outcomes?.join(', ')}), but '${p.outcome}' was provided`,
    },
    {
      condition: (p) => p.aggregate !== 'sum' && p.aggregate !== 'count',
      message: (p) => `businessMetric.aggregate must be 'sum' or 'count', but '${p.aggregate}' was provided`,
    },
    ...durationRules('businessMetric.window', (p) => p.window, 'hours', 1, 720),
    ...durationRules('businessMetric.lakeDelay', (p) => p.lakeDelay, 'minutes', 0, 1440),
    ...durationRules('businessMetric.queryTimeout', (p) => p.queryTimeout, 'seconds', 10, LAMBDA_MAX_TIMEOUT.toSeconds() - RAMP_OVERHEAD.toSeconds()),
    ...durationRules('guardrailWindow', (p) => p.guardrailWindow, 'minutes', 1, 1440),
  ]),
  ...durationRules('decisionRetention', (p) => p.decisionRetention, 'days', 1, 3650),
  ...durationRules('trafficWeightsRefresh', (p) => p.trafficWeightsRefresh, 'seconds', 1, 3600),
  ...ofAbTest([{
    condition: (p) => p.ramp !== undefined && rampProblems(p.ramp).length > 0,
    message: (p) => (p.ramp === undefined ? '' : rampProblems(p.ramp).join('; ')),
  }]),
  {
    condition: (p) => p.hasChallenger && (p.ramp === undefined || !p.metricGiven),
    message: () => 'ramp and businessMetric must be given: the endpoint has a challenger variant, whose versions are A/B tested on the business metric',
  },
  {
    condition: (p) => !p.hasChallenger && (p.ramp === undefined) !== !p.metricGiven,
    message: () => 'ramp and businessMetric go together (an A/B test needs both), but only one was provided',
  },
  {
    // SageMaker's guardrails do not apply (Inf1, or turned off): the A/B ramp is the equivalent canary.
    condition: (p) => !p.guarded && !p.hasChallenger,
    message: () => 'endpoint has no deployment guardrails (deployment.guarded false, or Inf1 instances, which SageMaker\'s blue/green updates do not support) '
      + 'and no challenger variant: a release would replace its only model at once with nothing to roll back on. Give it a challenger variant and an A/B test '
      + '(the ramp starts the version at 5 % and rolls it back on the latency and error guardrails), or guardrails',
  },
  {
    condition: (p) => p.releaseAfterGroup !== undefined && !Token.isUnresolved(p.modelPackageGroupName) && p.releaseAfterGroup !== p.modelPackageGroupName,
    message: (p) => `releaseAfter must run versions of ${p.modelPackageGroupName}, the group this release serves, but it runs versions of ${p.releaseAfterGroup}`,
  },
];

/** Every problem with the props; empty when they are valid. */
export function modelReleaseProblems(p: ResolvedReleaseProps): string[] {
  const abTest = p.ramp !== undefined && p.metricGiven;
  return ruleProblems(RULES.filter((rule) => abTest || !rule.abTest), p);
}
