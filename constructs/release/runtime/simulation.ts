/**
 * Monte Carlo experiments for the ramp controller: synthetic traffic goes through the real
 * {@link decide} after every batch, from the first step until a terminal decision, exactly as the
 * scheduled handler would call it. Seeded, so every figure reproduces.
 *
 * Per look, `usersPerLook` new users arrive and each lands in the challenger with its current share
 * (binomial split, normal approximation). A normal metric is drawn per batch from its exact
 * sufficient statistics (mean ~ normal, sum of squared deviations ~ σ²χ²ₘ₋₁), which makes a
 * 100,000-user experiment cost as much as a 100-user one; a lognormal metric (skewed like session
 * lengths) is drawn user by user to check the normal approximation the test leans on.
 */
import { ProportionInterval, wilsonInterval } from './binomial';
import type { VariantEvidence } from './evidence';
import { normalQuantile } from './normal';
import { ExperimentPlan, RampPolicyConfig, planExperiment } from './plan';
import { Random, createRandom, deriveSeed } from './prng';
import { DecisionRule, RampState, decide, initialRampState } from './ramp-policy';

/** The per-user metric's distribution in a simulation. */
export type SimulatedMetric = 'normal' | 'lognormal';

/** A simulated world: the truth the controller does not see, and the traffic it gets. */
export interface SimulationScenario {
  /** Label for reports. */
  readonly name: string;
  /** The controller's configuration. */
  readonly config: RampPolicyConfig;
  /** True relative lift of the challenger's mean over the baseline mean (0 = no lift). */
  readonly trueLift: number;
  /**
   * Per-user metric distribution: normal with the baseline spread (the lift shifts the mean), or
   * lognormal with the baseline mean and spread (the lift scales every user, keeping the CV).
   */
  readonly metric: SimulatedMetric;
  /** New users per look across both variants. */
  readonly usersPerLook: number;
  /** Invocations per new user in the look's guardrail window. */
  readonly invocationsPerUser: number;
  /** The champion's p99 latency (ms). */
  readonly championP99Ms: number;
  /** The challenger's p99 latency (ms). */
  readonly challengerP99Ms: number;
  /** The champion's 5xx rate. */
  readonly championErrorRate: number;
  /** The challenger's 5xx rate. */
  readonly challengerErrorRate: number;
  /** Looks after which an experiment still running counts as undecided. */
  readonly maxLooks: number;
}

/** How one simulated experiment ended. */
export interface ExperimentOutcome {
  /** The terminal action, or `undecided` after `maxLooks`. */
  readonly action: 'promote' | 'rollback' | 'undecided';
  /** The rule that ended it. */
  readonly rule: DecisionRule | 'max-looks';
  /** Looks taken, the terminal one included. */
  readonly looks: number;
  /** Champion users at the end. */
  readonly championUsers: number;
  /** Challenger users at the end. */
  readonly challengerUsers: number;
  /** The highest challenger percent reached before the end. */
  readonly highestPercent: number;
}

// Bound once: see prng.ts on global lookups under jest.
const { exp, sqrt, log } = Math;

interface Arm {
  users: number;
  sum: number;
  sumSq: number;
}

function drawBatch(random: Random, arm: Arm, users: number, metric: SimulatedMetric, mean: number, sd: number): void {
  if (users === 0) return;
  if (metric === 'normal') {
    const batchMean = mean + (sd / sqrt(users)) * random.normal();
    arm.sum += users * batchMean;
    arm.sumSq += sd * sd * random.chiSquare(users - 1) + users * batchMean * batchMean;
  } else {
    const s2 = log(1 + (sd * sd) / (mean * mean));
    const mu = log(mean) - s2 / 2;
    const s = sqrt(s2);
    for (let i = 0; i < users; i += 1) {
      const x = exp(mu + s * random.normal());
      arm.sum += x;
      arm.sumSq += x * x;
    }
  }
  arm.users += users;
}

function binomial(random: Random, trials: number, p: number): number {
  if (p <= 0 || trials === 0) return 0;
  if (p >= 1) return trials;
  const draw = Math.round(trials * p + sqrt(trials * p * (1 - p)) * random.normal());
  return Math.min(trials, Math.max(0, draw));
}

function evidence(random: Random, name: string, arm: Arm, newUsers: number, s: SimulationScenario, p99: number, errorRate: number): VariantEvidence {
  const invocations = Math.round(newUsers * s.invocationsPerUser);
  return {
    variantName: name,
    users: arm.users,
    metricSum: arm.sum,
    metricSumOfSquares: arm.sumSq,
    p99LatencyMs: invocations > 0 ? p99 : 0,
    invocations,
    errors: binomial(random, invocations, errorRate),
  };
}

/** Runs one experiment of `scenario` under `plan` from `seed`, looking after every batch. */
export function simulateExperiment(scenario: SimulationScenario, plan: ExperimentPlan, seed: number): ExperimentOutcome {
  const random = createRandom(seed);
  const { baselineMean: mean, baselineStdDev: sd } = plan;
  const challengerMean = mean * (1 + scenario.trueLift);
  const challengerSd = scenario.metric === 'lognormal' ? sd * (1 + scenario.trueLift) : sd;
  const champion: Arm = { users: 0, sum: 0, sumSq: 0 };
  const challenger: Arm = { users: 0, sum: 0, sumSq: 0 };
  let state: RampState = initialRampState(plan);
  let highestPercent = state.challengerPercent;
  for (let look = 1; look <= scenario.maxLooks; look += 1) {
    const toChallenger = binomial(random, scenario.usersPerLook, state.challengerPercent / 100);
    const toChampion = scenario.usersPerLook - toChallenger;
    drawBatch(random, champion, toChampion, scenario.metric, mean, sd);
    drawBatch(random, challenger, toChallenger, scenario.metric, challengerMean, challengerSd);
    const decision = decide(plan, {
      state,
      champion: evidence(random, 'champion', champion, toChampion, scenario, scenario.championP99Ms, scenario.championErrorRate),
      challenger: evidence(random, 'challenger', challenger, toChallenger, scenario, scenario.challengerP99Ms, scenario.challengerErrorRate),
    });
    if (decision.action === 'promote' || decision.action === 'rollback') {
      return { action: decision.action, rule: decision.rule, looks: look, championUsers: champion.users, challengerUsers: challenger.users, highestPercent };
    }
    state = decision.nextState;
    highestPercent = Math.max(highestPercent, state.challengerPercent);
  }
  return { action: 'undecided', rule: 'max-looks', looks: scenario.maxLooks, championUsers: champion.users, challengerUsers: challenger.users, highestPercent };
}

/** A count out of the experiments, with its 95 % Wilson interval. */
export interface RateEstimate extends ProportionInterval {
  /** Experiments with the outcome. */
  readonly count: number;
  /** count / experiments. */
  readonly rate: number;
}

/** Median and 90th percentile. */
export interface Spread {
  /** Median. */
  readonly median: number;
  /** 90th percentile. */
  readonly p90: number;
}

/** What many experiments of one scenario did. */
export interface ScenarioSummary {
  /** The scenario. */
  readonly scenario: SimulationScenario;
  /** Its plan. */
  readonly plan: ExperimentPlan;
  /** Experiments run. */
  readonly experiments: number;
  /** Promoted experiments. */
  readonly promoted: RateEstimate;
  /** Rolled-back experiments (any rule). */
  readonly rolledBack: RateEstimate;
  /** Experiments still running after `maxLooks`. */
  readonly undecided: RateEstimate;
  /** Experiments per deciding rule. */
  readonly byRule: Readonly<Partial<Record<DecisionRule | 'max-looks', number>>>;
  /** Users in the smaller arm when decided (decided experiments only; null when none decided). */
  readonly smallerArmUsersAtDecision: Spread | null;
  /** Looks to a decision (decided experiments only; null when none decided). */
  readonly looksToDecision: Spread | null;
}

/** Type-7 (linear interpolation) quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const h = (sorted.length - 1) * q;
  const low = Math.floor(h);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low] + (h - low) * (sorted[high] - sorted[low]);
}

function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
}

const Z95 = normalQuantile(0.975);

function rate(count: number, total: number): RateEstimate {
  return { count, rate: count / total, ...wilsonInterval(count, total, Z95) };
}

/** Runs `experiments` seeded experiments of a scenario and summarizes them. */
export function runScenario(scenario: SimulationScenario, experiments: number, seed: number): ScenarioSummary {
  const plan = planExperiment(scenario.config);
  const outcomes = Array.from({ length: experiments }, (_, i) => simulateExperiment(scenario, plan, deriveSeed(seed, i)));
  const count = (action: ExperimentOutcome['action']) => outcomes.filter((o) => o.action === action).length;
  const byRule: Partial<Record<DecisionRule | 'max-looks', number>> = {};
  for (const o of outcomes) byRule[o.rule] = (byRule[o.rule] ?? 0) + 1;
  const decided = outcomes.filter((o) => o.action !== 'undecided');
  return {
    scenario,
    plan,
    experiments,
    promoted: rate(count('promote'), experiments),
    rolledBack: rate(count('rollback'), experiments),
    undecided: rate(count('undecided'), experiments),
    byRule,
    smallerArmUsersAtDecision: spread(decided.map((o) => Math.min(o.championUsers, o.challengerUsers))),
    looksToDecision: spread(decided.map((o) => o.looks)),
  };
}
