/**
 * Sticky variant assignment: a subject (by pseudonym) always lands in the same production variant
 * while the weights stay, so an A/B test compares people, not requests. The serve route and the
 * feedback route compute it independently and must agree; so must any offline analysis:
 *
 *   u = first 8 hex digits of SHA-256("<pipeline name>:<pseudonym>") / 2^32   (in [0, 1))
 *   variant = first variant whose cumulative normalized weight exceeds u
 *
 * The pipeline name is mixed in so that two pipelines split the same people independently. Order
 * matters when weights move: growing the first variant's weight only moves subjects into it, so
 * list the variant being ramped up (the challenger) first.
 */
import { createHash } from 'node:crypto';

const TWO_TO_32 = 2 ** 32;

export function assignVariant(
  pipelineName: string,
  subjectPseudonym: string,
  variants: readonly { readonly name: string; readonly weight: number }[],
): string | null {
  let total = 0;
  for (const variant of variants) if (variant.weight > 0 && Number.isFinite(variant.weight)) total += variant.weight;
  if (total <= 0) return null;
  const digest = createHash('sha256').update(`${pipelineName}:${subjectPseudonym}`, 'utf8').digest('hex');
  const u = parseInt(digest.slice(0, 8), 16) / TWO_TO_32;
  let cumulative = 0;
  let last: string | null = null;
  for (const variant of variants) {
    if (!(variant.weight > 0) || !Number.isFinite(variant.weight)) continue;
    cumulative += variant.weight / total;
    last = variant.name;
    if (u < cumulative) return variant.name;
  }
  // Rounding can leave the cumulative sum a hair below 1.
  return last;
}
