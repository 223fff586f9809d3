/**
 * How a second source's hits join the candidates already found (see {@link Fusion}).
 *
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, "Reciprocal rank fusion outperforms
 * Condorcet and individual rank learning methods", SIGIR 2009): a candidate scores
 * Σ 1 / (k + rank) over the sources that found it, rank 1-based in each source's own list. Only
 * ranks count, so a BM25 score and an inner product never have to share a scale; k (60 in the
 * paper, and OpenSearch's `rank_constant` default) damps the weight of the very first ranks so
 * that one source's top hit does not outvote agreement between sources.
 */
import type { Fusion } from '../contract';
import { addCandidates, type Candidate, type RequestState } from '../types';

/** RRF score of a candidate's ranks. */
export function rrfScore(ranks: Readonly<Record<string, number>>, k: number): number {
  let score = 0;
  for (const rank of Object.values(ranks)) score += 1 / (k + rank);
  return score;
}

/**
 * Each candidate's ranks in the sources that found it: those recorded by an earlier fusion, else
 * its position among the candidates of its own source (in the current order, which is that
 * source's order: sources append).
 */
function ranksOf(candidates: readonly Candidate[]): Record<string, number>[] {
  const seenPerSource = new Map<string, number>();
  return candidates.map((candidate) => {
    const position = (seenPerSource.get(candidate.source) ?? 0) + 1;
    seenPerSource.set(candidate.source, position);
    return { ...(candidate.ranks ?? { [candidate.source]: position }) };
  });
}

/**
 * Merges `hits` (in the source's order) into the state's candidates as `fusion` says. With `rrf`
 * the candidates end in fused order, each once, with its ranks and the fused score as its
 * `retrievalScore`; ties keep the earlier candidates first, then the hits' order. Every earlier
 * source counts as one list. No hits leave the candidates as they were, as a degraded source does.
 */
export function fuseCandidates(state: RequestState, source: string, hits: readonly Candidate[], fusion: Fusion): void {
  if (hits.length === 0) return;
  if (fusion.method === 'append') {
    // Their own scale: a BM25 score would not compare with a k-NN one in a degraded ranker's order.
    addCandidates(state, hits.map(({ retrievalScore: _score, ...hit }, i) => ({ ...hit, ranks: { [source]: i + 1 } })));
    return;
  }
  const earlier = ranksOf(state.candidates);
  const merged = state.candidates.map((candidate, i) => ({ candidate, ranks: earlier[i] }));
  const byId = new Map(merged.map((entry, i) => [entry.candidate.id, i]));
  // Ranks count distinct ids: a document indexed twice (old and new run during a re-index) is one hit.
  const ranked = new Set<string>();
  for (const hit of hits) {
    if (ranked.has(hit.id)) continue;
    ranked.add(hit.id);
    const rank = ranked.size;
    const at = byId.get(hit.id);
    if (at === undefined) {
      byId.set(hit.id, merged.length);
      merged.push({ candidate: hit, ranks: { [source]: rank } });
      continue;
    }
    // Found before: one candidate, ranked by both; the document's fields fill what it lacks.
    const entry = merged[at];
    entry.ranks[source] = rank;
    entry.candidate = { ...entry.candidate, fields: { ...hit.fields, ...entry.candidate.fields } };
  }
  const scored = merged.map(({ candidate, ranks }) => ({ ...candidate, ranks, retrievalScore: rrfScore(ranks, fusion.k) }));
  // Array.prototype.sort is stable: equal scores keep the earlier candidates first, then the hits' order.
  scored.sort((a, b) => b.retrievalScore - a.retrievalScore);
  state.candidates.splice(0, state.candidates.length, ...scored);
  for (const candidate of scored) state.candidateIds.add(candidate.id);
}
