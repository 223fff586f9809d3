/**
 * Operational guardrails for the challenger, judged before any statistics: a model that is slow or
 * failing harms users now, whatever its business metric may show later, so a breach rolls back at
 * the first look that sees it. They compare the challenger with limits (and the champion) in the
 * reader's guardrail window, not cumulatively, so an old good hour cannot dilute a bad current one.
 */
import { wilsonInterval } from './binomial';
import type { VariantEvidence } from './evidence';
import type { GuardrailPlan } from './plan';

/** The guardrails the controller checks. */
export type GuardrailName = 'p99-latency-absolute' | 'p99-latency-relative' | 'error-rate';

/** One guardrail at one look. */
export interface GuardrailCheck {
  /** Which guardrail. */
  readonly name: GuardrailName;
  /** The challenger's figure: p99 in ms, p99 over the champion's p99, or 5xx rate; null when undefined (champion p99 of 0). */
  readonly observed: number | null;
  /**
   * The figure compared with the limit: `observed` for latency; for the error rate its Wilson
   * lower confidence bound (Wilson score), so sampling noise alone does not breach.
   */
  readonly compared: number | null;
  /** The limit. */
  readonly limit: number;
  /** Whether the challenger is over the limit (latency: only judged with enough invocations). */
  readonly breached: boolean;
}

/** Guardrails at one look: `unjudged` when nothing breached but latency could not be judged. */
export interface GuardrailReport {
  /** `breach` if any check breached, else `unjudged` below the minimum invocations, else `pass`. */
  readonly verdict: 'pass' | 'breach' | 'unjudged';
  /** Challenger invocations in the window. */
  readonly challengerInvocations: number;
  /** Invocations needed to judge. */
  readonly minInvocations: number;
  /** Every configured check, in the order they are applied. */
  readonly checks: readonly GuardrailCheck[];
}

/**
 * Applies the guardrails to validated evidence. Latency needs `minInvocations`: the p99 of a few
 * calls is their maximum, one cold call. The error rate needs no minimum of its own: its Wilson
 * lower bound is low with few calls, so only a challenger failing nearly every call breaches early,
 * and that one should not wait for traffic.
 */
export function checkGuardrails(plan: GuardrailPlan, champion: VariantEvidence, challenger: VariantEvidence): GuardrailReport {
  const enoughCalls = challenger.invocations >= plan.minInvocations;
  const checks: GuardrailCheck[] = [];
  const add = (name: GuardrailName, observed: number | null, compared: number | null, limit: number, judged: boolean) =>
    checks.push({ name, observed, compared, limit, breached: judged && compared !== null && compared > limit });

  if (plan.maxP99LatencyMs !== null) {
    add('p99-latency-absolute', challenger.p99LatencyMs, challenger.p99LatencyMs, plan.maxP99LatencyMs, enoughCalls);
  }
  if (plan.maxP99LatencyRatio !== null) {
    const ratio = champion.p99LatencyMs > 0 ? challenger.p99LatencyMs / champion.p99LatencyMs : null;
    add('p99-latency-relative', ratio, ratio, plan.maxP99LatencyRatio, enoughCalls);
  }
  const rate = challenger.invocations > 0 ? challenger.errors / challenger.invocations : 0;
  add('error-rate', rate, wilsonInterval(challenger.errors, challenger.invocations, plan.errorRateZ).lower, plan.maxErrorRate, true);

  const verdict = checks.some((c) => c.breached) ? 'breach' : enoughCalls ? 'pass' : 'unjudged';
  return { verdict, challengerInvocations: challenger.invocations, minInvocations: plan.minInvocations, checks };
}
