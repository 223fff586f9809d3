/**
 * Runs a pipeline's stages in config order for one request. Degrade, never fail: a stage that
 * errs or runs out of time is recorded in `degraded` and the next stage runs. Each I/O stage gets
 * its own limit, cut to what is left of the request budget; once the budget is spent, I/O stages
 * are skipped (recorded with category `budget`) while the pure ones (requestCandidates, rerank,
 * act's decision) still run, so privacy exclusions hold on every answer.
 */
import type { PipelineConfig, StageConfig } from './contract';
import type { Clock } from './deps';
import { errorName } from './json';
import { decideActions, sendForReview } from './stages/act';
import type { StageResources, StageRun } from './stages/context';
import { runEmbed } from './stages/embed';
import { runFeatures } from './stages/features';
import { runKnn } from './stages/knn';
import { runLookupVector } from './stages/lookup-vector';
import { popularApplies, runPopular } from './stages/popular';
import { retrievalOrder, runRank } from './stages/rank';
import { runRequestCandidates } from './stages/request-candidates';
import { runRerank } from './stages/rerank';
import { queryText, runTextSearch } from './stages/text-search';
import { isTimeout, withTimeout } from './timeout';
import type { Degradation, RequestState, StageResult } from './types';

export interface PipelineReport {
  readonly timingsMs: Record<string, number>;
  /** Every degradation, in order (a label may appear more than once across parts). */
  readonly degradations: Degradation[];
}

type IoStage = Exclude<StageConfig, { kind: 'requestCandidates' | 'rerank' | 'act' }>;

/**
 * The least budget worth starting an I/O stage with. Node's timers can fire a millisecond before
 * Date.now says their delay has passed, so a stage cut to the budget left may end with a sliver
 * of it; no network call completes in that time, and the next stage would only fail on its own
 * missing input. A sliver counts as spent.
 */
export const MIN_STAGE_BUDGET_MS = 2;

export async function runPipeline(
  config: PipelineConfig,
  state: RequestState,
  resources: StageResources,
  startedAt: number,
): Promise<PipelineReport> {
  const clock = resources.deps.clock;
  const budgetDeadline = startedAt + config.budgetMs;
  const report: PipelineReport = { timingsMs: {}, degradations: [] };

  for (const stage of config.stages) {
    const began = clock.now();
    switch (stage.kind) {
      case 'requestCandidates':
        runRequestCandidates(stage, state);
        break;
      case 'rerank':
        runRerank(stage, state);
        break;
      case 'act': {
        const toReview = decideActions(stage, state.candidates.slice(0, config.response.maxItems));
        if (toReview.length === 0) break;
        const remaining = budgetDeadline - began;
        if (remaining < MIN_STAGE_BUDGET_MS) {
          report.degradations.push({ label: stage.name, category: 'budget' });
          break;
        }
        await guarded(stage.name, Math.min(stage.timeoutMs, remaining), clock, report, async (run) => {
          await sendForReview(stage, state, toReview, resources, run);
          return {};
        });
        break;
      }
      default: {
        if (!hasWork(stage, state)) continue;
        const remaining = budgetDeadline - began;
        if (remaining < MIN_STAGE_BUDGET_MS) {
          report.degradations.push({ label: stage.name, category: 'budget' });
          if (stage.kind === 'rank') retrievalOrder(state);
          continue;
        }
        const result = await guarded(stage.name, Math.min(stage.timeoutMs, remaining), clock, report, (run) =>
          runIoStage(stage, state, resources, run),
        );
        if (result?.apply) result.apply(state);
        if (stage.kind === 'rank' && (result === undefined || result.degraded?.some((d) => d.label === stage.name))) {
          retrievalOrder(state);
        }
      }
    }
    report.timingsMs[stage.name] = clock.now() - began;
  }
  return report;
}

/** Runs one stage under its limit; undefined when it failed (already recorded). */
async function guarded(
  name: string,
  limitMs: number,
  clock: Clock,
  report: PipelineReport,
  work: (run: StageRun) => Promise<StageResult>,
): Promise<StageResult | undefined> {
  const deadline = clock.now() + limitMs;
  try {
    const result = await withTimeout(limitMs, (signal) => work({ signal, deadline }));
    if (result.degraded) report.degradations.push(...result.degraded);
    return result;
  } catch (error) {
    report.degradations.push({ label: name, category: isTimeout(error) ? 'timeout' : 'error', errorName: errorName(error) });
    return undefined;
  }
}

/** Whether the stage has anything to do; one without work is neither run, timed nor degraded. */
function hasWork(stage: IoStage, state: RequestState): boolean {
  switch (stage.kind) {
    case 'popular':
      return popularApplies(stage, state);
    case 'rank':
      return state.candidates.length > 0;
    case 'textSearch':
      // An optional query field left out: nothing to search for, and nothing missed.
      return queryText(stage, state) !== undefined;
    case 'features':
      // Candidate and pair groups need candidates; pair groups also need the subject (planLookups).
      return state.candidates.length > 0 || (state.subject !== undefined && stage.groups.some((group) => group.of === 'subject'));
    default:
      return true;
  }
}

function runIoStage(stage: IoStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  switch (stage.kind) {
    case 'features':
      return runFeatures(stage, state, resources, run);
    case 'embed':
      return runEmbed(stage, state, resources, run);
    case 'lookupVector':
      return runLookupVector(stage, state, resources, run);
    case 'knn':
      return runKnn(stage, state, resources, run);
    case 'textSearch':
      return runTextSearch(stage, state, resources, run);
    case 'popular':
      return runPopular(stage, state, resources, run);
    case 'rank':
      return runRank(stage, state, resources, run);
  }
}
