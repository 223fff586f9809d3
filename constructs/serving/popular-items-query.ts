/**
 * The Athena statement of {@link PopularItems}: the top items of a serving path's outcome log, per
 * value of request fields, as JSON lines the prediction loader (`load_predictions.py`) writes.
 */

/** The field of a JSON line that the loader writes as the item's key (`pk`). */
export const LIST_KEY_FIELD = 'pk';
/** The field of a JSON line that the loader writes as the item's `prediction`: the ranked ids. */
export const LIST_ITEMS_FIELD = 'SageMakerOutput';

/** `{field}` in a key: the same syntax the `popular` stage fills from the request. */
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** A list key as the `popular` stage reads it: literal text around `{field}` placeholders. */
export interface KeyTemplate {
  readonly text: string;
  /** The literal text before, between and after the placeholders: one more than `fields`. */
  readonly literals: readonly string[];
  /** The request fields, in order. */
  readonly fields: readonly string[];
}

/** `popular#{language}` → literals `['popular#', '']`, fields `['language']`. */
export function parseKeyTemplate(text: string): KeyTemplate {
  const literals: string[] = [];
  const fields: string[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    literals.push(text.slice(last, match.index));
    fields.push(match[1]);
    last = match.index + match[0].length;
  }
  literals.push(text.slice(last));
  return { text, literals, fields };
}

/** What the statement reads, ranks and writes. */
export interface PopularItemsQuery {
  readonly databaseName: string;
  /** The serving log's curated outcomes table (`request_id`, `item_id`, `outcome`, `value`, `received_at`, subject). */
  readonly outcomesTable: string;
  /** The serving log's curated impressions table (`request_id`, `served_at`, request columns, `item_id`). */
  readonly impressionsTable: string;
  /** The subject's column on outcome lines (a pseudonym). */
  readonly subjectColumn: string;
  /** The outcome that ranks items, e.g. `watch_time_s`. */
  readonly outcome: string;
  /** Whole hours of outcomes before the hour the run starts in. */
  readonly windowHours: number;
  readonly topN: number;
  /** Distinct subjects with a positive outcome an item needs to be listed. */
  readonly minSubjects: number;
  readonly key: KeyTemplate;
  /** With placeholders in `key`: also the list over all requests, under this key. */
  readonly overallKey?: string;
}

const q = (name: string) => `"${name}"`;
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * The UNLOAD. Its `{}` slots take the run's start time as ISO-8601 wherever the window's end is
 * needed (twice, four times with placeholders: inline, so that Athena prunes the tables' files by
 * it), then the target prefix.
 *
 * 1. `outcomes`: the window's outcomes of the chosen kind, one per served item (request and item):
 *    its largest value, so that a repeated report (a Firehose retry, a growing watch time) counts
 *    once; only positive values (a skip, zero seconds) count.
 * 2. `served` (with placeholders): the request fields of each served item, from impressions served
 *    up to one window before the window (an outcome reported a while after the impression).
 * 3. `scored`: per item (and per value of the fields; with `overallKey`, also over all of them,
 *    `GROUPING SETS`): the sum of the values and the distinct subjects.
 * 4. Items with fewer than `minSubjects` subjects are left out (no list reveals what a few people
 *    watched); per list the top `topN` by score, then subjects, then id (deterministic).
 * 5. One text line per list, `{"pk": key, "SageMakerOutput": [ids]}`: Athena lower-cases column
 *    names, so the JSON is built as a value and written as TEXTFILE (one column: no delimiter).
 */
export function popularItemsStatement(spec: PopularItemsQuery): string {
  const from = (table: string) => `${q(spec.databaseName)}.${q(table)}`;
  const end = `date_trunc('hour', CAST(from_iso8601_timestamp('{}') AS timestamp))`;
  const windowStart = `${end} - INTERVAL '${spec.windowHours}' HOUR`;
  const servedStart = `${end} - INTERVAL '${2 * spec.windowHours}' HOUR`;
  const subject = q(spec.subjectColumn);
  const fields = spec.key.fields.map(q);
  const partitioned = fields.length > 0;

  const ctes = [
    `outcomes AS (SELECT "request_id", "item_id", ${subject} AS subject, max("value") AS value FROM ${from(spec.outcomesTable)} `
    + `WHERE "outcome" = ${literal(spec.outcome)} AND "received_at" >= ${windowStart} AND "received_at" < ${end} `
    + `AND "request_id" IS NOT NULL AND "item_id" IS NOT NULL AND ${subject} IS NOT NULL `
    + `GROUP BY "request_id", "item_id", ${subject} HAVING max("value") > 0)`,
  ];
  let scoredFrom = 'outcomes o';
  let groupBy = 'GROUP BY o."item_id"';
  let pk = literal(spec.key.text);
  let listed = '';
  let grouping = '';
  if (partitioned) {
    // Served items without impressions in range (or fields) only count in the overall list.
    ctes.push(`served AS (SELECT "request_id", "item_id", ${fields.map((f) => `arbitrary(${f}) AS ${f}`).join(', ')} FROM ${from(spec.impressionsTable)} `
      + `WHERE "served_at" >= ${servedStart} AND "served_at" < ${end} AND "request_id" IS NOT NULL AND "item_id" IS NOT NULL `
      + 'GROUP BY "request_id", "item_id")');
    scoredFrom = 'outcomes o LEFT JOIN served s ON s."request_id" = o."request_id" AND s."item_id" = o."item_id"';
    const byField = `(o."item_id", ${fields.map((f) => `s.${f}`).join(', ')})`;
    groupBy = spec.overallKey === undefined ? `GROUP BY ${byField.slice(1, -1)}` : `GROUP BY GROUPING SETS (${byField}, (o."item_id"))`;
    grouping = `, ${fields.map((f) => `s.${f} AS ${f}`).join(', ')}, ${spec.overallKey === undefined ? '0' : `grouping(${fields.map((f) => `s.${f}`).join(', ')})`} AS overall`;
    const parts = spec.key.literals.flatMap((text, i) => [...(text === '' ? [] : [literal(text)]), ...(i < fields.length ? [fields[i]] : [])]);
    const perValue = parts.join(' || ');
    pk = spec.overallKey === undefined ? perValue : `CASE WHEN overall > 0 THEN ${literal(spec.overallKey)} ELSE ${perValue} END`;
    listed = ` AND (overall > 0 OR (${fields.map((f) => `${f} IS NOT NULL`).join(' AND ')}))`;
  }
  ctes.push(
    `scored AS (SELECT o."item_id" AS item${grouping}, sum(o.value) AS score, count(DISTINCT o.subject) AS subjects FROM ${scoredFrom} ${groupBy})`,
    `lists AS (SELECT ${pk} AS pk, item, score, subjects FROM scored WHERE subjects >= ${spec.minSubjects}${listed})`,
    'ranked AS (SELECT pk, item, row_number() OVER (PARTITION BY pk ORDER BY score DESC, subjects DESC, item) AS position FROM lists)',
  );
  const line = `json_format(CAST(MAP(ARRAY['${LIST_KEY_FIELD}', '${LIST_ITEMS_FIELD}'], `
    + 'ARRAY[CAST(pk AS JSON), CAST(array_agg(item ORDER BY position) AS JSON)]) AS JSON)) AS line';
  const select = `WITH ${ctes.join(', ')} SELECT ${line} FROM ranked WHERE position <= ${spec.topN} GROUP BY pk`;
  return `UNLOAD (${select}) TO '{}' WITH (format = 'TEXTFILE', compression = 'GZIP')`;
}
