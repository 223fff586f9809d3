/**
 * The A/B ramp controller's decision at one look: hold, ramp to the next step, promote the
 * challenger to 100 % or roll it back to 0 %. Pure and deterministic: the same plan and evidence
 * give the same record, which is what lets an auditor replay a promotion.
 *
 * Order of the rules (the first that applies decides):
 *   1. the challenger is at 0 % or 100 %                → hold   (no experiment running)
 *   2. a guardrail is breached                          → rollback
 *   3. too few challenger invocations to judge latency  → hold
 *   4. an arm has fewer than minUsersPerArm users       → hold
 *   5. the metric has no spread in either arm           → hold
 *   6. mSPRT p ≤ α, effect > 0                          → promote
 *      mSPRT p ≤ α, effect < 0                          → rollback
 *   7. the smaller arm reached the sample budget        → rollback ("no lift shown")
 *   8. the challenger is at the last step               → hold
 *   9. effect estimate ≤ −rampHoldZ standard errors     → hold
 *  10. fewer than minUsersPerStep users at this step    → hold
 *  11. otherwise                                        → ramp
 * Guardrails come first because they protect users now; only rule 6 reads the p-value, once per
 * look, so the error rates are the mSPRT's. Rules 9–10 only ever delay a ramp, so the ad-hoc
 * z in rule 9 costs no error control: it keeps a challenger that looks worse at its small share
 * until the test either clears it or rolls it back.
 */
import { VariantEvidence, metricMoments, variantEvidenceProblems } from './evidence';
import { GuardrailCheck, GuardrailReport, checkGuardrails } from './guardrails';
import { InputProblem, throwIfProblems, wholeAtLeast } from './input-error';
import type { ExperimentPlan } from './plan';
import { SequentialTestResult, mixtureSprt } from './sequential-test';

/** What the controller decides. */
export type RampAction = 'hold' | 'ramp' | 'promote' | 'rollback';

/** Which rule decided (see the file comment for their order). */
export type DecisionRule =
  | 'no-experiment'
  | 'guardrail-breach'
  | 'guardrails-unjudged'
  | 'too-few-users'
  | 'no-variance'
  | 'significant-lift'
  | 'significant-harm'
  | 'budget-exhausted'
  | 'last-step'
  | 'negative-signal'
  | 'step-too-young'
  | 'next-step';

/** What the controller remembers between looks; the handler stores it beside the champion/challenger record. */
export interface RampState {
  /** The challenger's traffic percent: a step of the schedule, or 0 / 100 once the experiment ended. */
  readonly challengerPercent: number;
  /** The challenger's cumulative user count when the current step began. */
  readonly challengerUsersAtStepStart: number;
}

/** One look's input. */
export interface RampInput {
  /** The state after the previous decision (or {@link initialRampState}). */
  readonly state: RampState;
  /** The champion's evidence. */
  readonly champion: VariantEvidence;
  /** The challenger's evidence. */
  readonly challenger: VariantEvidence;
  /**
   * When the evidence was read (ISO 8601), echoed into the record; the controller reads no clock.
   * @default - null in the record
   */
  readonly asOf?: string;
}

/** Traffic percentages of the two variants (they sum to 100). */
export interface VariantWeights {
  /** Champion's percent. */
  readonly champion: number;
  /** Challenger's percent. */
  readonly challenger: number;
}

/** One entry of `UpdateEndpointWeightsAndCapacities`' `DesiredWeightsAndCapacities`. */
export interface DesiredWeight {
  /** The production variant. */
  readonly variantName: string;
  /** Its weight; SageMaker normalizes weights, and these are percentages. */
  readonly desiredWeight: number;
}

/** The auditable record of one decision; plain JSON (no undefined, NaN or Infinity). */
export interface RampDecision {
  /** Record type, for log queries. */
  readonly kind: 'ab-ramp-decision';
  /** Record schema version. */
  readonly version: 1;
  /** When the evidence was read, as the handler passed it. */
  readonly asOf: string | null;
  /** The decision. */
  readonly action: RampAction;
  /** The rule that decided. */
  readonly rule: DecisionRule;
  /** One line a person can read. */
  readonly reason: string;
  /** The inputs exactly as read. */
  readonly inputs: { readonly state: RampState; readonly champion: VariantEvidence; readonly challenger: VariantEvidence };
  /** Guardrail checks; null when no experiment is running. */
  readonly guardrails: GuardrailReport | null;
  /** The sequential test; null when it cannot be computed (an arm under two users, or no spread). */
  readonly statistics: SequentialTestResult | null;
  /** The plan: α, τ², budget, minimums, schedule and guardrail limits. */
  readonly thresholds: ExperimentPlan;
  /** Weights before the decision. */
  readonly weightsBefore: VariantWeights;
  /** Weights after the decision. */
  readonly weightsAfter: VariantWeights;
  /** Whether the handler must call `UpdateEndpointWeightsAndCapacities`. */
  readonly weightsChanged: boolean;
  /** `DesiredWeightsAndCapacities` for the update, champion first. */
  readonly desiredWeights: readonly DesiredWeight[];
  /** The state to store for the next look. */
  readonly nextState: RampState;
}

/** The state a new experiment starts in: the first step, no users yet. */
export function initialRampState(plan: ExperimentPlan): RampState {
  return { challengerPercent: plan.schedulePercent[0], challengerUsersAtStepStart: 0 };
}

function stateProblems(plan: ExperimentPlan, state: RampState, challengerUsers: number): InputProblem[] {
  const allowed = [0, ...plan.schedulePercent, 100];
  const problems: InputProblem[] = [];
  if (!allowed.includes(state.challengerPercent)) {
    problems.push({ field: 'state.challengerPercent', message: `state.challengerPercent must be one of ${allowed.join(', ')}, but ${state.challengerPercent} was provided` });
  }
  const startProblems = wholeAtLeast('state.challengerUsersAtStepStart', state.challengerUsersAtStepStart, 0);
  problems.push(...startProblems);
  // Compared only when both counts are valid, so one bad count is reported once.
  if (startProblems.length === 0 && Number.isInteger(challengerUsers) && challengerUsers >= 0 && state.challengerUsersAtStepStart > challengerUsers) {
    problems.push({ field: 'state.challengerUsersAtStepStart', message: `state.challengerUsersAtStepStart must not exceed challenger.users (${challengerUsers}), but ${state.challengerUsersAtStepStart} was provided` });
  }
  return problems;
}

// Thousands separators by hand: toLocaleString depends on the runtime's ICU data.
const num = (x: number): string => (Number.isInteger(x) ? String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : String(Number(x.toPrecision(3))));
const pct = (x: number): string => `${Number((x * 100).toPrecision(3))} %`;
const signedPct = (x: number): string => `${x > 0 ? '+' : ''}${pct(x)}`;
const pValue = (p: number): string => (p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2))));

function effectText(s: SequentialTestResult): string {
  const cs = s.confidenceSequence;
  return s.relativeEffect !== null && cs.relativeLower !== null && cs.relativeUpper !== null
    ? `${signedPct(s.relativeEffect)} (always-valid ${pct(cs.level)} CS ${signedPct(cs.relativeLower)} to ${signedPct(cs.relativeUpper)})`
    : `${num(s.effect)} (always-valid ${pct(cs.level)} CS ${num(cs.lower)} to ${num(cs.upper)})`;
}

function breachText(check: GuardrailCheck): string {
  switch (check.name) {
    case 'p99-latency-absolute':
      return `challenger p99 latency ${num(check.observed ?? 0)} ms > limit ${num(check.limit)} ms`;
    case 'p99-latency-relative':
      return `challenger p99 latency ${num(check.observed ?? 0)}× the champion's > limit ${num(check.limit)}×`;
    case 'error-rate':
      return `challenger 5xx rate ${pct(check.observed ?? 0)} (lower bound ${pct(check.compared ?? 0)}) > limit ${pct(check.limit)}`;
  }
}

/** The variance of θ̂ is computable: both arms have two users and at least one arm's metric varies. */
function testable(champion: VariantEvidence, challenger: VariantEvidence): boolean {
  if (champion.users < 2 || challenger.users < 2) return false;
  return metricMoments('champion', champion).variance > 0 || metricMoments('challenger', challenger).variance > 0;
}

/**
 * Decides one look. Throws a {@link RampInputError} naming every invalid field of the evidence or
 * state; too little evidence is not an error but a `hold`.
 */
export function decide(plan: ExperimentPlan, input: RampInput): RampDecision {
  const { state, champion, challenger } = input;
  throwIfProblems([
    ...stateProblems(plan, state, challenger.users),
    ...variantEvidenceProblems('champion', champion),
    ...variantEvidenceProblems('challenger', challenger),
  ]);
  const running = state.challengerPercent > 0 && state.challengerPercent < 100;
  const guardrails = running ? checkGuardrails(plan.guardrails, champion, challenger) : null;
  const statistics = running && testable(champion, challenger)
    ? mixtureSprt(champion, challenger, { mixingVariance: plan.mixingVariance, alpha: plan.alpha })
    : null;

  const record = (action: RampAction, rule: DecisionRule, reason: string, targetPercent = state.challengerPercent): RampDecision => {
    const weightsBefore = { champion: 100 - state.challengerPercent, challenger: state.challengerPercent };
    const weightsAfter = { champion: 100 - targetPercent, challenger: targetPercent };
    const weightsChanged = targetPercent !== state.challengerPercent;
    return {
      kind: 'ab-ramp-decision',
      version: 1,
      asOf: input.asOf ?? null,
      action,
      rule,
      reason,
      inputs: { state, champion, challenger },
      guardrails,
      statistics,
      thresholds: plan,
      weightsBefore,
      weightsAfter,
      weightsChanged,
      desiredWeights: [
        { variantName: champion.variantName, desiredWeight: weightsAfter.champion },
        { variantName: challenger.variantName, desiredWeight: weightsAfter.challenger },
      ],
      nextState: weightsChanged ? { challengerPercent: targetPercent, challengerUsersAtStepStart: challenger.users } : state,
    };
  };
  const at = `${state.challengerPercent} %`;

  if (!running || guardrails === null) {
    return record('hold', 'no-experiment', `no experiment running: the challenger is at ${at}`);
  }
  const breaches = guardrails.checks.filter((c) => c.breached);
  if (breaches.length > 0) {
    return record('rollback', 'guardrail-breach', `guardrail breach: ${breaches.map(breachText).join('; ')}: roll back to 0 %`, 0);
  }
  if (guardrails.verdict === 'unjudged') {
    return record('hold', 'guardrails-unjudged', `guardrails unjudged: ${num(challenger.invocations)} challenger invocations in the window, ${num(plan.guardrails.minInvocations)} needed to judge latency: hold at ${at}`);
  }
  const fewer = Math.min(champion.users, challenger.users);
  if (fewer < plan.minUsersPerArm) {
    const arm = challenger.users <= champion.users ? 'challenger' : 'champion';
    return record('hold', 'too-few-users', `too few users: ${num(fewer)} in the ${arm} arm, ${num(plan.minUsersPerArm)} needed before the test is read: hold at ${at}`);
  }
  if (statistics === null) {
    return record('hold', 'no-variance', `the per-user metric does not vary yet in either arm, so there is no test: hold at ${at}`);
  }
  const p = statistics.alwaysValidPValue;
  // The effect in the better direction: a lower metric is a gain when lower is better.
  const sign = plan.better === 'lower' ? -1 : 1;
  const gainZ = sign * statistics.zScore;
  const moves = plan.better === 'lower'
    ? `${statistics.effect > 0 ? 'raises' : 'lowers'} the metric (lower is better) by ${effectText(statistics)}`
    : `${statistics.effect > 0 ? 'lifts' : 'lowers'} the metric by ${effectText(statistics)}`;
  if (p <= plan.alpha && sign * statistics.effect > 0) {
    return record('promote', 'significant-lift', `challenger ${moves}, always-valid p = ${pValue(p)} ≤ α = ${plan.alpha}: promote to 100 %`, 100);
  }
  if (p <= plan.alpha) {
    return record('rollback', 'significant-harm', `challenger ${moves}, always-valid p = ${pValue(p)} ≤ α = ${plan.alpha}: roll back to 0 %`, 0);
  }
  if (fewer >= plan.maxUsersPerArm) {
    return record('rollback', 'budget-exhausted', `no lift shown: ${num(fewer)} users in the smaller arm reached the budget of ${num(plan.maxUsersPerArm)} with p = ${pValue(p)} > α = ${plan.alpha}: roll back to 0 %, the champion stays`, 0);
  }
  const stepIndex = plan.schedulePercent.indexOf(state.challengerPercent);
  const progress = `${num(fewer)} of ${num(plan.maxUsersPerArm)} users per arm`;
  if (stepIndex === plan.schedulePercent.length - 1) {
    return record('hold', 'last-step', `no significant difference yet (p = ${pValue(p)} > α = ${plan.alpha}, ${progress}): hold at the last step, ${at}`);
  }
  if (gainZ <= -plan.rampHoldZ) {
    const side = plan.better === 'lower' ? 'above zero (lower is better)' : 'below zero';
    return record('hold', 'negative-signal', `negative signal: effect ${effectText(statistics)} lies ${num(-gainZ)} standard errors ${side} (the ramp holds from ${plan.rampHoldZ}): hold at ${at}`);
  }
  const atStep = challenger.users - state.challengerUsersAtStepStart;
  if (atStep < plan.minUsersPerStep) {
    return record('hold', 'step-too-young', `${num(atStep)} challenger users at ${at}, ${num(plan.minUsersPerStep)} needed before the next step (p = ${pValue(p)}, ${progress}): hold`);
  }
  const next = plan.schedulePercent[stepIndex + 1];
  return record('ramp', 'next-step', `no negative signal (z = ${num(gainZ)}${plan.better === 'lower' ? ' in the better direction' : ''}) after ${num(atStep)} challenger users at ${at} (p = ${pValue(p)}, ${progress}): ramp to ${next} %`, next);
}
