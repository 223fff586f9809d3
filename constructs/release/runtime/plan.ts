/**
 * Turns what a blueprint knows before an A/B test (baseline mean and spread of the per-user metric,
 * the smallest lift worth shipping, α, power) into the numbers the controller decides with: the
 * mSPRT's mixing variance τ² and the sample budget.
 *
 * Budget. The mSPRT rejects when |θ̂| / √V reaches z(τ²/V) (see {@link mixtureBoundaryZ}). Take the
 * balanced horizon n* users per arm, V* = 2σ²/n*, and τ² = r*·V* with r* the ratio that makes the
 * boundary smallest (r* ≈ 8.2 and z* = z(r*) ≈ 3.04 for α = 0.05). An effect δ = MDE × baseline mean then crosses
 * the boundary at n* with probability 1 − β when δ / √V* = z* + z₁₋β, so
 *
 *   n* = 2σ² (z* + z₁₋β)² / δ²        (≈ 15.0 · 2σ²/δ² for α = 0.05, power 0.8;
 *                                       a fixed-horizon test needs 7.85 · 2σ²/δ²)
 *
 * Crossing at an earlier look also counts, so the power within the budget is at least 1 − β. The
 * budget counts the smaller arm: during the ramp the champion has more users than the challenger,
 * which only shrinks V below V*, so power holds whatever the schedule.
 *
 * Mixing variance. τ² = r*·V* = r* δ² / (z* + z₁₋β)² (τ ≈ 0.74 δ for α = 0.05, power 0.8): the
 * mixture is tuned to the MDE, spending its evidence at the sample size where the MDE becomes
 * detectable (Johari et al. advise matching τ² to the effects one expects; Howard et al. 2021 §3.5
 * tune a mixture to a target time). A larger τ² favours big effects early and costs power at the
 * MDE; a smaller one the reverse.
 */
import { InputProblem, numberBetween, throwIfProblems, wholeAtLeast } from './input-error';
import { normalQuantile } from './normal';
import { mixtureBoundaryZ, optimalMixingRatio } from './sequential-test';

/** Defaults, named so that the docs and the tests use the same numbers. */
export const RAMP_DEFAULTS = {
  alpha: 0.05,
  power: 0.8,
  schedulePercent: [5, 10, 25, 50] as readonly number[],
  /** Below a few hundred users a per-user mean of a skewed metric (session length) is far from normal. */
  minUsersPerArm: 200,
  minUsersPerStep: 1000,
  /** Hold the ramp while the effect estimate is a standard error or more below zero. */
  rampHoldZ: 1,
  maxP99LatencyRatio: 1.5,
  maxErrorRate: 0.01,
  minInvocations: 100,
  /**
   * The error-rate guardrail fires when the rate's one-sided lower confidence bound (Wilson score,
   * z = 3, 0.13 %) exceeds the limit: re-checked every hour, a bare "observed rate > limit" would
   * roll back a challenger whose true rate sits just under the limit within days.
   */
  errorRateZ: 3,
} as const;

/** Limits checked before any statistics; a breach rolls the challenger back at once. */
export interface GuardrailConfig {
  /**
   * Challenger p99 model latency limit in milliseconds (e.g. the blueprint's latency budget).
   * @default - no absolute limit
   */
  readonly maxP99LatencyMs?: number | null;
  /**
   * Challenger p99 latency limit relative to the champion's p99 in the same window; null disables it.
   * @default 1.5
   */
  readonly maxP99LatencyRatio?: number | null;
  /**
   * Challenger 5xx error-rate limit, a fraction of invocations.
   * @default 0.01
   */
  readonly maxErrorRate?: number;
  /**
   * Challenger invocations in the guardrail window below which latency cannot be judged and the
   * controller holds (an error rate far above the limit still rolls back).
   * @default 100
   */
  readonly minInvocations?: number;
}

/** What a blueprint passes to plan a champion/challenger experiment. */
export interface RampPolicyConfig {
  /** Smallest relative change of the per-user metric worth shipping (in the better direction), e.g. 0.02 for 2 %. */
  readonly minimumDetectableEffect: number;
  /**
   * Which way the metric improves: `higher` (clicks, watch time) or `lower` (reports, appeals,
   * time to a complaint). The controller promotes a challenger that moves it that way significantly
   * and rolls back one that moves it the other way; the test is two-sided, so its error rates hold
   * either way.
   * @default 'higher'
   */
  readonly better?: 'higher' | 'lower';
  /** Champion's mean per-user metric before the experiment (positive). */
  readonly baselineMean: number;
  /** Standard deviation of the per-user metric across users before the experiment. */
  readonly baselineStdDev: number;
  /**
   * Significance level: the probability of promoting a challenger without a lift.
   * @default 0.05
   */
  readonly alpha?: number;
  /**
   * Probability of promoting a challenger whose lift equals the MDE within the sample budget.
   * @default 0.8
   */
  readonly power?: number;
  /**
   * Challenger traffic percentages to ramp through, increasing, each in (0, 100).
   * @default [5, 10, 25, 50]
   */
  readonly schedulePercent?: readonly number[];
  /**
   * Users each arm needs before the sequential test is read.
   * @default 200
   */
  readonly minUsersPerArm?: number;
  /**
   * Challenger users gained at the current step before the next step.
   * @default 1000
   */
  readonly minUsersPerStep?: number;
  /**
   * Sample budget: when the smaller arm reaches it without a significant result, the experiment
   * ends with "no lift shown" and the champion keeps all traffic.
   * @default - derived from the MDE, α, power and baseline spread (see the file comment)
   */
  readonly maxUsersPerArm?: number;
  /**
   * The ramp holds while the effect estimate is this many standard errors below zero.
   * @default 1
   */
  readonly rampHoldZ?: number;
  /** Latency and error guardrails. @default - see {@link GuardrailConfig} */
  readonly guardrails?: GuardrailConfig;
}

/** Guardrail limits with defaults applied. */
export interface GuardrailPlan {
  /** Absolute p99 latency limit (ms), or null for none. */
  readonly maxP99LatencyMs: number | null;
  /** p99 latency limit relative to the champion, or null for none. */
  readonly maxP99LatencyRatio: number | null;
  /** 5xx error-rate limit. */
  readonly maxErrorRate: number;
  /** Invocations needed to judge latency. */
  readonly minInvocations: number;
  /** z of the Wilson lower bound compared with `maxErrorRate`. */
  readonly errorRateZ: number;
}

/** Every number the controller decides with; plain JSON, copied into each decision record. */
export interface ExperimentPlan {
  /** Significance level α. */
  readonly alpha: number;
  /** Which way the metric improves. */
  readonly better: 'higher' | 'lower';
  /** Planned power at the MDE. */
  readonly power: number;
  /** Relative MDE. */
  readonly minimumDetectableEffect: number;
  /** Baseline mean of the per-user metric. */
  readonly baselineMean: number;
  /** Baseline standard deviation of the per-user metric. */
  readonly baselineStdDev: number;
  /** The MDE in metric units: MDE × baseline mean. */
  readonly absoluteEffect: number;
  /** r* = τ² / V at the planned horizon. */
  readonly mixingRatio: number;
  /** τ², the mSPRT's mixing variance in squared metric units. */
  readonly mixingVariance: number;
  /** The mSPRT boundary |θ̂|/√V at the planned horizon (z*). */
  readonly boundaryZAtHorizon: number;
  /** n*, the users per arm derived from MDE, α, power and baseline spread. */
  readonly plannedUsersPerArm: number;
  /** The sample budget in force (n* unless the config overrides it). */
  readonly maxUsersPerArm: number;
  /** Users each arm needs before the test is read. */
  readonly minUsersPerArm: number;
  /** Challenger users per step before the next step. */
  readonly minUsersPerStep: number;
  /** Standard errors below zero at which the ramp holds. */
  readonly rampHoldZ: number;
  /** Challenger percentages of the ramp. */
  readonly schedulePercent: readonly number[];
  /** Guardrail limits. */
  readonly guardrails: GuardrailPlan;
}

function optionalPositive(field: string, value: number | null | undefined, min: number): InputProblem[] {
  return value === null || value === undefined ? [] : numberBetween(field, value, min, Number.MAX_VALUE, { low: min === 0 });
}

function scheduleProblems(schedule: readonly number[]): InputProblem[] {
  const field = 'schedulePercent';
  if (!Array.isArray(schedule) || schedule.length === 0) {
    return [{ field, message: `${field} must be a non-empty list of percentages, but ${JSON.stringify(schedule)} was provided` }];
  }
  const inRange = schedule.every((p) => typeof p === 'number' && p > 0 && p < 100);
  const increasing = schedule.every((p, i) => i === 0 || p > schedule[i - 1]);
  return inRange && increasing
    ? []
    : [{ field, message: `${field} must increase strictly with every step in (0, 100), but ${JSON.stringify(schedule)} was provided` }];
}

/** Validates a config (one error listing every problem) and derives the {@link ExperimentPlan}. */
export function planExperiment(config: RampPolicyConfig): ExperimentPlan {
  const alpha = config.alpha ?? RAMP_DEFAULTS.alpha;
  const power = config.power ?? RAMP_DEFAULTS.power;
  const schedulePercent = [...(config.schedulePercent ?? RAMP_DEFAULTS.schedulePercent)];
  const minUsersPerArm = config.minUsersPerArm ?? RAMP_DEFAULTS.minUsersPerArm;
  const minUsersPerStep = config.minUsersPerStep ?? RAMP_DEFAULTS.minUsersPerStep;
  const rampHoldZ = config.rampHoldZ ?? RAMP_DEFAULTS.rampHoldZ;
  const g = config.guardrails ?? {};
  const guardrails: GuardrailPlan = {
    maxP99LatencyMs: g.maxP99LatencyMs ?? null,
    maxP99LatencyRatio: g.maxP99LatencyRatio === undefined ? RAMP_DEFAULTS.maxP99LatencyRatio : g.maxP99LatencyRatio,
    maxErrorRate: g.maxErrorRate ?? RAMP_DEFAULTS.maxErrorRate,
    minInvocations: g.minInvocations ?? RAMP_DEFAULTS.minInvocations,
    errorRateZ: RAMP_DEFAULTS.errorRateZ,
  };
  throwIfProblems([
    ...(config.better === undefined || config.better === 'higher' || config.better === 'lower' ? []
      : [{ field: 'better', message: `better must be 'higher' or 'lower', but ${JSON.stringify(config.better)} was provided` }]),
    ...numberBetween('minimumDetectableEffect', config.minimumDetectableEffect, 0, 10, { low: true }),
    ...numberBetween('baselineMean', config.baselineMean, 0, Number.MAX_VALUE, { low: true }),
    ...numberBetween('baselineStdDev', config.baselineStdDev, 0, Number.MAX_VALUE, { low: true }),
    ...numberBetween('alpha', alpha, 0, 0.5, { low: true }),
    ...numberBetween('power', power, 0.5, 0.999),
    ...scheduleProblems(schedulePercent),
    ...wholeAtLeast('minUsersPerArm', minUsersPerArm, 2),
    ...wholeAtLeast('minUsersPerStep', minUsersPerStep, 0),
    ...(config.maxUsersPerArm === undefined ? [] : wholeAtLeast('maxUsersPerArm', config.maxUsersPerArm, Number.isInteger(minUsersPerArm) ? minUsersPerArm : 2)),
    ...numberBetween('rampHoldZ', rampHoldZ, 0, Number.MAX_VALUE),
    ...optionalPositive('guardrails.maxP99LatencyMs', guardrails.maxP99LatencyMs, 0),
    ...optionalPositive('guardrails.maxP99LatencyRatio', guardrails.maxP99LatencyRatio, 1),
    ...numberBetween('guardrails.maxErrorRate', guardrails.maxErrorRate, 0, 1, { low: true, high: true }),
    ...wholeAtLeast('guardrails.minInvocations', guardrails.minInvocations, 1),
  ]);

  const absoluteEffect = config.minimumDetectableEffect * config.baselineMean;
  const mixingRatio = optimalMixingRatio(alpha);
  const boundaryZAtHorizon = mixtureBoundaryZ(mixingRatio, alpha);
  const zSum = boundaryZAtHorizon + normalQuantile(power);
  const sigma2 = config.baselineStdDev ** 2;
  const horizon = (2 * sigma2 * zSum * zSum) / (absoluteEffect * absoluteEffect);
  const plannedUsersPerArm = Math.max(minUsersPerArm, Math.ceil(horizon));
  return {
    alpha,
    better: config.better ?? 'higher',
    power,
    minimumDetectableEffect: config.minimumDetectableEffect,
    baselineMean: config.baselineMean,
    baselineStdDev: config.baselineStdDev,
    absoluteEffect,
    mixingRatio,
    // From the unrounded horizon, so τ² depends on the MDE alone: r* δ² / (z* + z₁₋β)².
    mixingVariance: (mixingRatio * 2 * sigma2) / horizon,
    boundaryZAtHorizon,
    plannedUsersPerArm,
    maxUsersPerArm: config.maxUsersPerArm ?? plannedUsersPerArm,
    minUsersPerArm,
    minUsersPerStep,
    rampHoldZ,
    schedulePercent,
    guardrails,
  };
}
