/**
 * `npx ts-node --transpile-only scripts/simulate-ramp.ts [--experiments N]`: the A/B ramp
 * controller's error rates and sample sizes by simulation, at 10,000 seeded experiments per scenario
 * (the tests beside constructs/release/runtime run the same claims at 1,000).
 *
 * For each MDE it runs: no lift, a lift of half the MDE, a lift of the MDE and a harm of the MDE,
 * with the ramp and with a 50/50 split from the start; a skewed (lognormal) metric; guardrail
 * breaches; and, for contrast, a fixed-horizon z-test re-checked at every look. Writes
 * docs/release-simulation.md; the output depends on the seeds only, so a re-run reproduces it.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  ExperimentPlan,
  RampInput,
  RampPolicyConfig,
  ScenarioSummary,
  SimulationScenario,
  createRandom,
  decide,
  deriveSeed,
  normalQuantile,
  planExperiment,
  runScenario,
  wilsonInterval,
} from '../constructs/release/runtime';

const ROOT = path.resolve(__dirname, '..');
const OUTPUT = path.join(ROOT, 'docs', 'release-simulation.md');

function experimentsFromArgs(): number {
  const i = process.argv.indexOf('--experiments');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 10_000;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--experiments must be a positive whole number, but ${process.argv[i + 1]} was provided`);
  return n;
}

/** The traffic every scenario gets: 2,000 new users an hour (48,000 a day), 10 invocations each. */
const TRAFFIC = { usersPerLook: 2000, invocationsPerUser: 10 };
const BASELINE = { baselineMean: 10, baselineStdDev: 10 };
const MDES = [0.02, 0.05, 0.1];
const NO_RAMP = [50];

function config(mde: number, overrides: Partial<RampPolicyConfig> = {}): RampPolicyConfig {
  return { minimumDetectableEffect: mde, ...BASELINE, minUsersPerStep: 1000, guardrails: { maxP99LatencyMs: 100 }, ...overrides };
}

function scenario(name: string, cfg: RampPolicyConfig, trueLift: number, overrides: Partial<SimulationScenario> = {}): SimulationScenario {
  return {
    name,
    config: cfg,
    trueLift,
    metric: 'normal',
    ...TRAFFIC,
    championP99Ms: 40,
    challengerP99Ms: 40,
    championErrorRate: 0.001,
    challengerErrorRate: 0.001,
    maxLooks: 20_000,
    ...overrides,
  };
}

const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;
const int = (x: number) => Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const rateCell = (r: { rate: number; lower: number; upper: number }) => `${pct(r.rate, 2)} (${pct(r.lower, 2)}–${pct(r.upper, 2)})`;

function resultRow(s: ScenarioSummary): string {
  const rule = (name: string) => pct((s.byRule[name as keyof typeof s.byRule] ?? 0) / s.experiments);
  const users = s.smallerArmUsersAtDecision;
  const looks = s.looksToDecision;
  return `| ${s.scenario.name} | ${s.plan.schedulePercent.length > 1 ? 'yes' : '50/50'} | ${pct(s.scenario.trueLift, 1)} | ${rateCell(s.promoted)} | ${rule('significant-harm')} | ${rule('budget-exhausted')} | ${rule('guardrail-breach')} | ${pct(s.undecided.rate)} | ${users ? `${int(users.median)} / ${int(users.p90)}` : '–'} | ${looks ? `${int(looks.median)} / ${int(looks.p90)}` : '–'} |`;
}

const RESULT_HEADER = [
  '| scenario | ramp | true lift | promoted (95 % CI) | rolled back: harm | rolled back: budget | rolled back: guardrail | undecided | smaller-arm users at decision, median / p90 | looks (hours), median / p90 |',
  '|---|---|---|---|---|---|---|---|---|---|',
];

/**
 * The practice the mSPRT replaces: a fixed-horizon two-sided z-test at α read after every look,
 * stopping at the first "significant" look, with balanced arms and the same budget and looks.
 */
function peekingFalsePromotion(plan: ExperimentPlan, experiments: number, seed: number): { count: number; looks: number } {
  const zCritical = normalQuantile(1 - plan.alpha / 2);
  const perArmPerLook = TRAFFIC.usersPerLook / 2;
  const looks = Math.ceil(plan.maxUsersPerArm / perArmPerLook);
  const sd = plan.baselineStdDev;
  let count = 0;
  for (let e = 0; e < experiments; e += 1) {
    const random = createRandom(deriveSeed(seed, e));
    let sumA = 0;
    let sumB = 0;
    for (let look = 1; look <= looks; look += 1) {
      // Only the means matter to a known-variance z-test; each look adds a batch mean per arm.
      sumA += perArmPerLook * (plan.baselineMean + (sd / Math.sqrt(perArmPerLook)) * random.normal());
      sumB += perArmPerLook * (plan.baselineMean + (sd / Math.sqrt(perArmPerLook)) * random.normal());
      const n = look * perArmPerLook;
      const z = (sumB / n - sumA / n) / Math.sqrt((2 * sd * sd) / n);
      if (z >= zCritical) {
        count += 1;
        break;
      }
      if (z <= -zCritical) break;
    }
  }
  return { count, looks };
}

/** One decision per rule, computed by `decide` from representative evidence. */
function decisionsTable(): string[] {
  const plan = planExperiment(config(0.05));
  const v = (name: string, users: number, mean: number, extra: Partial<RampInput['champion']> = {}) => ({
    variantName: name,
    users,
    metricSum: users * mean,
    metricSumOfSquares: (users - 1) * 100 + users * mean * mean,
    p99LatencyMs: 40,
    invocations: 1000,
    errors: 0,
    ...extra,
  });
  const flat = (name: string, users: number) => ({ ...v(name, users, 0), metricSum: 0, metricSumOfSquares: 0 });
  const look = (percent: number, champion: RampInput['champion'], challenger: RampInput['challenger'], atStepStart = 0): RampInput => ({
    state: { challengerPercent: percent, challengerUsersAtStepStart: atStepStart },
    champion,
    challenger,
  });
  const cases: [string, RampInput][] = [
    ['challenger at 0 % or 100 %', look(0, v('a', 5000, 10), v('b', 5000, 10))],
    ['challenger p99 150 ms (limit 100 ms, 1.5× champion)', look(25, v('a', 5000, 10), v('b', 5000, 11, { p99LatencyMs: 150 }))],
    ['challenger 80 errors in 1,000 calls (limit 1 %)', look(5, v('a', 5000, 10), v('b', 300, 10, { errors: 80 }))],
    ['40 challenger calls in the window (100 needed)', look(5, v('a', 5000, 10), v('b', 300, 10, { invocations: 40 }))],
    ['150 challenger users (200 needed)', look(5, v('a', 5000, 10), v('b', 150, 10))],
    ['every user has the same metric value', look(5, flat('a', 5000), flat('b', 300))],
    ['+10 % with 5,000 users per arm', look(10, v('a', 5000, 10), v('b', 5000, 11))],
    ['−10 % with 5,000 users per arm', look(10, v('a', 5000, 10), v('b', 5000, 9))],
    ['+0.5 % with the smaller arm at the budget', look(50, v('a', 20_000, 10), v('b', plan.maxUsersPerArm, 10.05))],
    ['+1 % with 3,000 per arm at 50 %', look(50, v('a', 3000, 10), v('b', 3000, 10.1))],
    ['−5 % with 1,000 challenger users at 10 %', look(10, v('a', 5000, 10), v('b', 1000, 9.5))],
    ['+1 %, 400 challenger users since the step began', look(10, v('a', 5000, 10), v('b', 1000, 10.1), 600)],
    ['+1 %, 1,000 challenger users since the step began', look(10, v('a', 5000, 10), v('b', 1000, 10.1), 0)],
  ];
  return [
    `Computed by \`decide\` with the MDE 5 % plan above (budget ${int(plan.maxUsersPerArm)} users per arm, α = ${plan.alpha}, 1,000 users per step, p99 limit 100 ms); rules apply in this order, the first that matches decides.`,
    '',
    '| # | evidence | action | rule | weights after (champion / challenger) | reason (as recorded) |',
    '|---|---|---|---|---|---|',
    ...cases.map(([evidence, input], i) => {
      const d = decide(plan, input);
      return `| ${i + 1} | ${evidence} | **${d.action}** | \`${d.rule}\` | ${d.weightsAfter.champion} / ${d.weightsAfter.challenger} | ${d.reason.replace(/\|/g, '\\|')} |`;
    }),
  ];
}

const harmShare = (s: ScenarioSummary) => (s.byRule['significant-harm'] ?? 0) / s.experiments;
const guardrailShare = (s: ScenarioSummary) => (s.byRule['guardrail-breach'] ?? 0) / s.experiments;

function main(): void {
  const experiments = experimentsFromArgs();
  const started = Date.now();
  const lines: string[] = [];
  const out = (...more: string[]) => lines.push(...more);
  let seed = 1000;
  const run = (s: SimulationScenario) => {
    const t = Date.now();
    const summary = runScenario(s, experiments, (seed += 1));
    process.stderr.write(`${s.name} (${pct(s.trueLift)}, ${summary.plan.schedulePercent.length > 1 ? 'ramp' : '50/50'}): ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    return summary;
  };

  out(
    '# A/B ramp controller: simulation',
    '',
    `Generated by \`npx ts-node --transpile-only scripts/simulate-ramp.ts\` (${int(experiments)} experiments per scenario, fixed seeds: a re-run reproduces every figure). The controller is \`constructs/release/runtime\`; its tests prove the same claims at 1,000 experiments each.`,
    '',
    '## Method',
    '',
    '- **Test.** The mixture sequential probability ratio test (mSPRT) for the difference of the variants\' mean per-user metric, with a normal mixture N(0, τ²) over the effect (Robbins 1970; Johari, Pekelis & Walsh, *Always valid inference*, 2017/2022). With θ̂ the difference of means and V = s²₁/n₁ + s²₂/n₂, Λ = √(V/(V+τ²)) · exp(τ²θ̂² / (2V(V+τ²))); the always-valid p-value is min(1, 1/Λ) and the always-valid confidence sequence θ̂ ± √V·z(τ²/V) with z(r)² = (1 + 1/r)(2 ln(1/α) + ln(1 + r)). Λ is a test martingale under "no difference", so reading p after every look and stopping at p ≤ α keeps the type I error at α (Ville\'s inequality). The per-arm variance makes Λ the Bayes factor with a flat prior on the common mean, which stays a test martingale when the ramp changes the split (group invariance: Pérez-Ortiz et al. 2024; Lindon et al. 2022).',
    '- **Mixing variance.** τ² = r*·δ² / (z* + z₁₋β)², with δ = MDE × baseline mean and r* the τ²/V that minimises z(·) (r* = 8.21, z* = 3.035 at α = 0.05): the mixture is tuned so that the boundary is tightest at the sample size where an effect of exactly the MDE reaches the planned power. τ = 0.739 δ for α = 0.05 and power 0.8.',
    '- **Sample budget.** n* = 2σ²(z* + z₁₋β)²/δ² users in the smaller arm (15.0 · 2σ²/δ² against 7.85 · 2σ²/δ² for a single fixed-horizon test: the price of looking every hour). Crossing at an earlier look also counts, and an unbalanced split only lowers V, so the power within the budget is at least the planned 80 %. At the budget without a significant result the experiment ends "no lift shown": roll back to 0 %, the champion stays.',
    '- **Controller.** Guardrails first (p99 latency absolute and relative to the champion, 5xx rate whose Wilson lower bound at z = 3 exceeds the limit), then minimum users, then the mSPRT (promote on p ≤ α with a positive effect, roll back on p ≤ α with a negative one), then the budget, then the ramp 5 → 10 → 25 → 50 % (one step after 1,000 challenger users at the current step unless the estimate is a standard error or more below zero). Promotion is allowed from any step.',
    '- **Simulation.** Each look (an hour) brings 2,000 new users, split binomially by the current challenger share; users are counted once, in the variant of their first exposure. The per-user metric is normal (mean 10, sd 10; the lift shifts the mean), drawn per batch from exact sufficient statistics (batch mean normal, sum of squared deviations σ²χ²), or lognormal (mean 10, sd 15, the lift scales every user) drawn user by user. Guardrail windows carry 10 invocations per new user, 0.1 % errors and a p99 of 40 ms unless a scenario breaches. Each experiment runs through the real `decide` after every look until promote or roll back (at most 20,000 looks). Rates carry 95 % Wilson intervals.',
    '',
    '## Plans',
    '',
    '| MDE | δ (metric units) | τ | budget n* (users per arm) | fixed-horizon n (same α, power) | boundary z at n* |',
    '|---|---|---|---|---|---|',
  );
  for (const mde of MDES) {
    const plan = planExperiment(config(mde));
    const fixed = Math.ceil((2 * plan.baselineStdDev ** 2 * (normalQuantile(1 - plan.alpha / 2) + normalQuantile(plan.power)) ** 2) / plan.absoluteEffect ** 2);
    out(`| ${pct(mde, 0)} | ${plan.absoluteEffect} | ${Math.sqrt(plan.mixingVariance).toFixed(3)} | ${int(plan.maxUsersPerArm)} | ${int(fixed)} | ${plan.boundaryZAtHorizon.toFixed(3)} |`);
  }

  const summaries: ScenarioSummary[] = [];
  out('', '## Results: normal per-user metric', '');
  for (const mde of MDES) {
    out(`### MDE ${pct(mde, 0)}`, '', ...RESULT_HEADER);
    for (const schedule of [undefined, NO_RAMP]) {
      for (const [name, lift] of [['no lift', 0], ['half the MDE', mde / 2], ['lift = MDE', mde], ['harm = MDE', -mde]] as const) {
        const s = run(scenario(name, config(mde, schedule ? { schedulePercent: schedule } : {}), lift));
        summaries.push(s);
        out(resultRow(s));
      }
    }
    out('');
  }

  out('## Results: skewed (lognormal) per-user metric', '', 'Mean 10, sd 15 (a session-length-like skew), MDE 10 %, drawn user by user: the mSPRT assumes a normal mean, which the CLT gives only approximately.', '', ...RESULT_HEADER);
  for (const [name, lift] of [['no lift', 0], ['lift = MDE', 0.1], ['harm = MDE', -0.1]] as const) {
    const s = run(scenario(name, config(0.1, { baselineStdDev: 15 }), lift, { metric: 'lognormal' }));
    summaries.push(s);
    out(resultRow(s));
  }
  const skewedNull = summaries[summaries.length - 3];
  if (harmShare(skewedNull) > skewedNull.promoted.rate) {
    out(
      '',
      `Under no lift, false "harm" roll-backs (${pct(harmShare(skewedNull), 2)}) outnumber false promotions (${pct(skewedNull.promoted.rate, 2)}): with right skew a small arm's sample mean and sample variance rise and fall together, so a low challenger mean comes with a small standard error and looks more significant than a high one. The extra error falls on the safe side (the champion stays), and the total stays below α.`,
    );
  }

  out('', '## Results: guardrails', '', 'MDE 5 %, the challenger carries a true lift of the MDE, so only the guardrail stands between it and promotion.', '', ...RESULT_HEADER);
  const guardrailRuns: ScenarioSummary[] = [];
  for (const [name, overrides] of [
    ['p99 150 ms (limit 100 ms)', { challengerP99Ms: 150 }],
    ['p99 65 ms (1.6× the champion)', { challengerP99Ms: 65 }],
    ['5xx rate 10 % (limit 1 %)', { challengerErrorRate: 0.1 }],
    ['5xx rate 3 % (limit 1 %)', { challengerErrorRate: 0.03 }],
    ['5xx rate 0.5 % (within the limit)', { challengerErrorRate: 0.005 }],
  ] as const) {
    const s = run(scenario(name, config(0.05), 0.05, overrides));
    guardrailRuns.push(s);
    out(resultRow(s));
  }

  out('', '## Results: a metric where lower is better', '', 'MDE 5 %, `better: \'lower\'` (reports or appeals per user): the "lift" column is the true change of the mean, and a decrease is what the controller should promote.', '', ...RESULT_HEADER);
  for (const [name, lift] of [['no change', 0], ['decrease = MDE', -0.05], ['increase = MDE', 0.05]] as const) {
    const s = run(scenario(name, config(0.05, { better: 'lower' }), lift));
    summaries.push(s);
    out(resultRow(s));
  }

  out(
    '',
    '## Why not a fixed-horizon test read every hour',
    '',
    'The same budget and hourly looks with balanced arms, stopping at the first look where a two-sided z-test at α = 0.05 is significant; a significant lift counts as a promotion (Armitage, McPherson & Rowe 1969 computed this inflation for repeated significance tests).',
    '',
    '| MDE | looks to the budget | false promotion, z-test at α = 0.05 read every look (95 % CI) | false promotion, mSPRT with the ramp |', '|---|---|---|---|');
  for (const mde of MDES) {
    const plan = planExperiment(config(mde));
    const peek = peekingFalsePromotion(plan, experiments, 7 + mde * 100);
    const ci = wilsonInterval(peek.count, experiments, normalQuantile(0.975));
    const ours = summaries.find((s) => s.plan.minimumDetectableEffect === mde && s.scenario.trueLift === 0 && s.plan.schedulePercent.length > 1 && s.scenario.metric === 'normal' && s.plan.better === 'higher');
    out(`| ${pct(mde, 0)} | ${peek.looks} | ${rateCell({ rate: peek.count / experiments, ...ci })} | ${ours ? rateCell(ours.promoted) : '–'} |`);
  }

  out('', '## Decisions', '', ...decisionsTable());

  // The true change in the metric's better direction: a decrease is a gain where lower is better.
  const gain = (s: ScenarioSummary) => (s.plan.better === 'lower' ? -1 : 1) * s.scenario.trueLift;
  const nullRuns = summaries.filter((s) => s.scenario.trueLift === 0);
  const mdeRuns = summaries.filter((s) => gain(s) === s.plan.minimumDetectableEffect);
  const harmRuns = summaries.filter((s) => gain(s) === -s.plan.minimumDetectableEffect);
  out(
    '',
    '## Summary',
    '',
    `- False promotion (no true lift): at most ${pct(Math.max(...nullRuns.map((s) => s.promoted.rate)), 2)} across ${nullRuns.length} scenarios (largest upper 95 % bound ${pct(Math.max(...nullRuns.map((s) => s.promoted.upper)), 2)}), against α = 5 %. The symmetric mixture splits α between the two directions, and stopping at the budget leaves part of it unspent.`,
    `- Power at the MDE within the budget: ${pct(Math.min(...mdeRuns.map((s) => s.promoted.rate)))} to ${pct(Math.max(...mdeRuns.map((s) => s.promoted.rate)))} (planned: at least 80 %; the ramp raises it because the champion arm gathers extra users early).`,
    `- A true harm of the MDE is promoted in ${pct(Math.max(...harmRuns.map((s) => s.promoted.rate)), 2)} of experiments at most; it is rolled back as a significant harm in ${pct(Math.min(...harmRuns.map((s) => harmShare(s))))} to ${pct(Math.max(...harmRuns.map((s) => harmShare(s))))} of experiments and otherwise at the budget.`,
    ...guardrailRuns.map((s) => `- Guardrail scenario "${s.scenario.name}": rolled back by the guardrail in ${pct(guardrailShare(s), 2)} of experiments, promoted in ${pct(s.promoted.rate, 2)}; decided at look ${s.looksToDecision ? `${int(s.looksToDecision.median)} (median), ${int(s.looksToDecision.p90)} (p90)` : '–'}.`),
    '',
  );

  fs.writeFileSync(OUTPUT, lines.join('\n'));
  process.stderr.write(`wrote ${path.relative(ROOT, OUTPUT)} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main();
