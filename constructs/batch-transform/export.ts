import { type ColumnType, type ICuratedDataset, WINDOW_COLUMN } from '../data-lake';

/** What the transform job sends the model: the request's ContentType, and the export's format. */
export enum TransformFormat {
  /** Comma-separated values without a header (e.g. SageMaker's XGBoost and linear learner). */
  CSV = 'text/csv',
  /** One JSON object per line: `{"<column>": value, ...}` with the model's columns. */
  JSON_LINES = 'application/jsonlines',
}

/** The field names the export gives the key and sort key (they never reach the model). */
export const EXPORT_KEY_FIELD = 'pk';
export const EXPORT_SORT_KEY_FIELD = 'sk';
/** In JSON lines, the object the model receives (`InputFilter: $.features`). */
export const EXPORT_FEATURES_FIELD = 'features';
/**
 * In JSON lines, the object that carries the passed-through columns past the model. One field
 * whatever the columns, so that the OutputFilter that keeps it stays short: SageMaker caps it at 63
 * characters, which `$['pk','region','room_type','price_per_night','SageMakerOutput']` already
 * exceeded.
 */
export const EXPORT_PASSTHROUGH_FIELD = 'passthrough';
/**
 * The column a split export is partitioned by (`<prefix>/export_part=<n>/...`): not in the files,
 * so the model and the loaders never see it. Not `_`-prefixed, which the loaders would skip.
 */
export const EXPORT_PART_FIELD = 'export_part';
/** Most partitions one Athena UNLOAD may write. */
export const MAX_EXPORT_PARTS = 100;

/** What the export carries: the key (and sort key) first, then the columns the model reads. */
export interface ExportColumns {
  readonly keyColumn: string;
  readonly sortKeyColumn?: string;
  readonly columns: readonly string[];
  readonly format: TransformFormat;
  /**
   * Columns carried past the model to the output, after the keys (CSV: fields after the keys;
   * JSON: the fields of `passthrough`, beside `features`), e.g. the vector index's document fields.
   * @default - none
   */
  readonly passthroughColumns?: readonly string[];
  /**
   * Split the export into this many parts, 2 to {@link MAX_EXPORT_PARTS}: rows go to part
   * `crc32(key) mod parts` (UNLOAD `partitioned_by`), each part one file or more, so that jobs that
   * share the files between instances (ShardedByS3Key) get about as many rows each.
   * @default - one part: as many files as Athena writes
   */
  readonly parts?: number;
  /**
   * Export some anonymization windows only: `one` (`WHERE anonymization_window = '{}'`, the
   * statement's first `{}` is then the window) or `list` (`IN ({})`, the first `{}` is then the
   * quoted windows, comma-separated); the second `{}` is the target prefix.
   * @default - every row
   */
  readonly windowFilter?: 'one' | 'list';
}

const q = (name: string) => `"${name}"`;

/** Trino's type of a column as the model receives it in JSON (dates and timestamps as ISO-8601 text). */
const JSON_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'varchar',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'varchar',
  date: 'varchar',
};

function jsonValue(name: string, type: ColumnType): string {
  if (type === 'timestamp') {
    return `to_iso8601(with_timezone(${q(name)}, 'UTC'))`;
  }
  return type === 'date' ? `to_iso8601(${q(name)})` : q(name);
}

/**
 * A CSV field of the model's input: text, with nulls as empty fields (TEXTFILE would write `\N`),
 * and, in strings, commas and line breaks replaced by spaces so that a value cannot shift columns.
 */
function csvValue(name: string, type: ColumnType): string {
  const c = q(name);
  switch (type) {
    case 'string':
      return `COALESCE(replace(replace(replace(${c}, ',', ' '), chr(10), ' '), chr(13), ' '), '')`;
    case 'timestamp':
      return `COALESCE(to_iso8601(with_timezone(${c}, 'UTC')), '')`;
    case 'date':
      return `COALESCE(to_iso8601(${c}), '')`;
    default:
      return `COALESCE(CAST(${c} AS varchar), '')`;
  }
}

/** `CAST(ROW(...) AS ROW(...))`: the columns as one JSON object in Athena's JSON output. */
function jsonObject(columns: readonly string[], typeOf: (name: string) => ColumnType): string {
  const row = `ROW(${columns.map((c) => jsonValue(c, typeOf(c))).join(', ')})`;
  const rowType = `ROW(${columns.map((c) => `${q(c)} ${JSON_TYPES[typeOf(c)]}`).join(', ')})`;
  return `CAST(${row} AS ${rowType})`;
}

/**
 * The Athena statement that exports a dataset for the transform job (`{}` = the target prefix):
 * gzipped CSV without a header (`key[,sort key][,passed-through columns],columns...`) or gzipped
 * JSON lines (`{"pk": key, ["sk": sort key,] ["passthrough": {columns...},] "features": {columns...}}`),
 * rows without a key left out.
 */
export function exportStatement(databaseName: string, source: Pick<ICuratedDataset, 'tableName' | 'columns'>, spec: ExportColumns): string {
  // The lake adds the window column to every curated table; it is not among the dataset's columns.
  const typeOf = (name: string): ColumnType => (name === WINDOW_COLUMN ? 'string' : source.columns.find((c) => c.name === name)!.type);
  const keys = [`${q(spec.keyColumn)} AS ${q(EXPORT_KEY_FIELD)}`];
  const present = [`${q(spec.keyColumn)} IS NOT NULL`];
  if (spec.sortKeyColumn !== undefined) {
    keys.push(`${q(spec.sortKeyColumn)} AS ${q(EXPORT_SORT_KEY_FIELD)}`);
    present.push(`${q(spec.sortKeyColumn)} IS NOT NULL`);
  }
  let values: string[];
  let options: string;
  const passthrough = spec.passthroughColumns ?? [];
  if (spec.format === TransformFormat.CSV) {
    keys.push(...passthrough.map((c) => `${csvValue(c, typeOf(c))} AS ${q(c)}`));
    values = spec.columns.map((c) => `${csvValue(c, typeOf(c))} AS ${q(c)}`);
    options = `format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP'`;
  } else {
    if (passthrough.length > 0) keys.push(`${jsonObject(passthrough, typeOf)} AS ${q(EXPORT_PASSTHROUGH_FIELD)}`);
    values = [`${jsonObject(spec.columns, typeOf)} AS ${q(EXPORT_FEATURES_FIELD)}`];
    options = `format = 'JSON', compression = 'GZIP'`;
  }
  if (spec.parts !== undefined && spec.parts > 1) {
    // Partition columns come last in the SELECT; their values name folders and stay out of the files.
    values.push(`mod(crc32(to_utf8(CAST(${q(spec.keyColumn)} AS varchar))), ${spec.parts}) AS ${q(EXPORT_PART_FIELD)}`);
    options += `, partitioned_by = ARRAY['${EXPORT_PART_FIELD}']`;
  }
  if (spec.windowFilter === 'one') {
    present.push(`${q(WINDOW_COLUMN)} = '{}'`);
  } else if (spec.windowFilter === 'list') {
    present.push(`${q(WINDOW_COLUMN)} IN ({})`);
  }
  const select = `SELECT ${[...keys, ...values].join(', ')} FROM ${q(databaseName)}.${q(source.tableName)} WHERE ${present.join(' AND ')}`;
  return `UNLOAD (${select}) TO '{}' WITH (${options})`;
}

/**
 * The transform job's DataProcessing: the model sees only its columns (InputFilter), and each
 * output line is joined with its input line (JoinSource) so that it carries the key. In JSON,
 * the output keeps only the key(s), `passthrough` and the prediction (`SageMakerOutput`): at most
 * `$['pk','sk','passthrough','SageMakerOutput']`, 44 characters, whatever the columns.
 */
export function dataProcessing(spec: Pick<ExportColumns, 'sortKeyColumn' | 'format' | 'passthroughColumns'>): Record<string, string> {
  const passthrough = spec.passthroughColumns ?? [];
  const keys = spec.sortKeyColumn === undefined ? [EXPORT_KEY_FIELD] : [EXPORT_KEY_FIELD, EXPORT_SORT_KEY_FIELD];
  if (spec.format === TransformFormat.CSV) {
    return { InputFilter: `$[${keys.length + passthrough.length}:]`, JoinSource: 'Input' };
  }
  const kept = [...keys, ...(passthrough.length > 0 ? [EXPORT_PASSTHROUGH_FIELD] : []), 'SageMakerOutput'];
  return {
    InputFilter: `$.${EXPORT_FEATURES_FIELD}`,
    JoinSource: 'Input',
    OutputFilter: `$[${kept.map((k) => `'${k}'`).join(',')}]`,
  };
}
