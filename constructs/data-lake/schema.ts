/**
 * A dataset's typed schema: every column says what it reveals about a person and what the
 * anonymization stage does with it. The stage's policy file is generated from this.
 */

/**
 * The column of every curated Iceberg table that names the window its rows were anonymized in:
 * the key that makes a window's commit happen once.
 */
export const WINDOW_COLUMN = 'anonymization_window';

/**
 * Lineage: the column of every curated Iceberg table (and staged row) that names the raw object a
 * row came from, by its key in the raw zone. An erasure finds the raw objects that hold a subject
 * with one query of the curated tables instead of a scan of the raw zone.
 */
export const LINEAGE_COLUMN = 'source_object';

/** Columns the lake adds to every curated table: a dataset may not declare them. */
export const RESERVED_COLUMNS: readonly string[] = [WINDOW_COLUMN, LINEAGE_COLUMN];

/** What a column reveals about a person. */
export enum ColumnClassification {
  /** Identifies a person on its own: user id, e-mail, phone, device id, face image. */
  DIRECT_IDENTIFIER = 'direct-identifier',
  /** Identifies a person in combination: birth date, postcode, location, IP address. */
  QUASI_IDENTIFIER = 'quasi-identifier',
  /** GDPR art. 9 data: health, religion, political opinion, sexual orientation, biometrics. */
  SPECIAL_CATEGORY = 'special-category',
  /** Says nothing about a person: item ids, prices, model scores. */
  NON_PERSONAL = 'non-personal',
}

/** What the anonymization stage does with a column. */
export enum ColumnAction {
  /** Leave it out of the curated dataset. */
  DROP = 'drop',
  /** Replace it with a keyed hash (HMAC-SHA256 with the lake's pseudonymization key). */
  PSEUDONYMIZE = 'pseudonymize',
  /** Coarsen it with a stated {@link Generalization}. */
  GENERALIZE = 'generalize',
  /** Copy it as it is. */
  KEEP = 'keep',
}

/** Column types, as Athena and Iceberg name them. */
export type ColumnType = 'string' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'date';

const COLUMN_TYPES: readonly ColumnType[] = ['string', 'bigint', 'double', 'boolean', 'timestamp', 'date'];

/** The rule a generalized column follows; the policy file carries its JSON form. */
export class Generalization {
  /** Floor numbers to a multiple of `width` (age 37 with width 10 → 30). */
  public static bucket(width: number): Generalization {
    return new Generalization({ kind: 'bucket', width }, ['bigint', 'double'], (t) => t, width > 0 ? [] : [`bucket width must be positive, but ${width} was provided`]);
  }

  /** Round numbers to `decimals` places (coordinates with 2 decimals ≈ 1 km). */
  public static round(decimals: number): Generalization {
    const ok = Number.isInteger(decimals) && decimals >= 0;
    return new Generalization({ kind: 'round', decimals }, ['double'], () => 'double', ok ? [] : [`round decimals must be a whole number >= 0, but ${decimals} was provided`]);
  }

  /** Truncate timestamps (UTC) to the hour, day, month or year. */
  public static truncateTimestamp(unit: 'hour' | 'day' | 'month' | 'year'): Generalization {
    const ok = ['hour', 'day', 'month', 'year'].includes(unit);
    return new Generalization({ kind: 'truncate-timestamp', unit }, ['timestamp', 'date'], (t) => t, ok ? [] : [`truncateTimestamp unit must be hour, day, month or year, but '${unit}' was provided`]);
  }

  /** Keep the first `length` characters (postcode 'SW1A 1AA' with 3 → 'SW1'). */
  public static prefix(length: number): Generalization {
    const ok = Number.isInteger(length) && length > 0;
    return new Generalization({ kind: 'prefix', length }, ['string'], () => 'string', ok ? [] : [`prefix length must be a whole number > 0, but ${length} was provided`]);
  }

  /** Zero the host bits of IP addresses (IPv4 /24 and IPv6 /48 by default). */
  public static ipPrefix(ipv4Bits = 24, ipv6Bits = 48): Generalization {
    const problems: string[] = [];
    if (!(Number.isInteger(ipv4Bits) && ipv4Bits >= 0 && ipv4Bits <= 32)) {
      problems.push(`ipPrefix ipv4Bits must be 0-32, but ${ipv4Bits} was provided`);
    }
    if (!(Number.isInteger(ipv6Bits) && ipv6Bits >= 0 && ipv6Bits <= 128)) {
      problems.push(`ipPrefix ipv6Bits must be 0-128, but ${ipv6Bits} was provided`);
    }
    return new Generalization({ kind: 'ip-prefix', ipv4Bits, ipv6Bits }, ['string'], () => 'string', problems);
  }

  private constructor(
    /** The rule as the policy file carries it. */
    public readonly rule: Readonly<Record<string, string | number>>,
    /** Column types the rule applies to. */
    public readonly inputTypes: readonly ColumnType[],
    private readonly outputTypeOf: (input: ColumnType) => ColumnType,
    /** Problems with the rule's own arguments. */
    public readonly problems: readonly string[],
  ) {}

  /** The curated column's type for an input column of `type`. */
  public outputType(type: ColumnType): ColumnType {
    return this.outputTypeOf(type);
  }
}

/** One column of a raw dataset. */
export interface ColumnDefinition {
  /** Column name: lower case letters, digits and underscores, starting with a letter. */
  readonly name: string;
  /** Type of the raw values. */
  readonly type: ColumnType;
  /** What the column reveals about a person. */
  readonly classification: ColumnClassification;
  /**
   * What the anonymization stage does with it. Required for every personal column.
   * @default ColumnAction.KEEP for non-personal columns
   */
  readonly action?: ColumnAction;
  /** The rule, required with (and only with) ColumnAction.GENERALIZE. */
  readonly generalization?: Generalization;
  /**
   * What the column means, for the Glue catalog.
   * @default - none
   */
  readonly comment?: string;
  /**
   * The data subject identifier whose pseudonym the column holds: an erasure request names a
   * subject by identifier (`{ user_id: '42' }`) and deletes the rows whose column holds that
   * identifier's pseudonym. Name another identifier when the column holds the same kind of id
   * under another name (`friend_id` holds user ids: `'user_id'`). Only pseudonymized columns carry one.
   * @default - the column's name for a pseudonymized DIRECT_IDENTIFIER; none for other columns (a
   *   pseudonymized quasi-identifier such as a post id identifies no subject)
   */
  readonly subjectIdentifier?: string;
}

/** How raw files of a dataset are written. */
export enum RawFormat {
  /** One JSON object per line (`.jsonl`, `.json`, optionally `.gz`). */
  JSON_LINES = 'jsonl',
  /** CSV with a header row (`.csv`, optionally `.gz`). */
  CSV = 'csv',
}

/** Actions each classification may take. A direct identifier never survives as it is. */
export const ALLOWED_ACTIONS: Readonly<Record<ColumnClassification, readonly ColumnAction[]>> = {
  [ColumnClassification.DIRECT_IDENTIFIER]: [ColumnAction.DROP, ColumnAction.PSEUDONYMIZE],
  [ColumnClassification.QUASI_IDENTIFIER]: [ColumnAction.DROP, ColumnAction.PSEUDONYMIZE, ColumnAction.GENERALIZE, ColumnAction.KEEP],
  [ColumnClassification.SPECIAL_CATEGORY]: [ColumnAction.DROP, ColumnAction.PSEUDONYMIZE, ColumnAction.GENERALIZE, ColumnAction.KEEP],
  [ColumnClassification.NON_PERSONAL]: [ColumnAction.KEEP, ColumnAction.DROP],
};

const NAME = /^[a-z][a-z0-9_]{0,127}$/;

/** The data subject identifier a column's pseudonym belongs to, if any (see ColumnDefinition.subjectIdentifier). */
export function subjectIdentifierOf(column: ColumnDefinition): string | undefined {
  if (actionOf(column) !== ColumnAction.PSEUDONYMIZE) {
    return undefined;
  }
  return column.subjectIdentifier ?? (column.classification === ColumnClassification.DIRECT_IDENTIFIER ? column.name : undefined);
}

/** The action a column gets: its own, or KEEP for a non-personal column without one. */
export function actionOf(column: ColumnDefinition): ColumnAction | undefined {
  return column.action ?? (column.classification === ColumnClassification.NON_PERSONAL ? ColumnAction.KEEP : undefined);
}

/** Everything wrong with a dataset's schema, each naming the dataset and column. */
export function schemaProblems(dataset: string, columns: readonly ColumnDefinition[]): string[] {
  const problems: string[] = [];
  if (!NAME.test(dataset)) {
    problems.push(`dataset name must be lower case letters, digits and underscores, starting with a letter, but '${dataset}' was provided`);
  }
  if (columns.length === 0) {
    problems.push(`dataset '${dataset}' has no columns`);
  }
  const seen = new Set<string>();
  for (const column of columns) {
    const where = `dataset '${dataset}' column '${column.name}'`;
    if (!NAME.test(column.name)) {
      problems.push(`${where}: name must be lower case letters, digits and underscores, starting with a letter`);
    }
    if (seen.has(column.name)) {
      problems.push(`${where} is declared twice`);
    }
    seen.add(column.name);
    if (RESERVED_COLUMNS.includes(column.name)) {
      problems.push(`${where}: the name is reserved: the lake adds ${WINDOW_COLUMN} (the window a row was anonymized in) and ${LINEAGE_COLUMN} `
        + `(the raw object it came from, for erasure) to every curated table; rename the column to anything but ${RESERVED_COLUMNS.join(', ')}`);
    }
    if (!COLUMN_TYPES.includes(column.type)) {
      problems.push(`${where}: type must be one of ${COLUMN_TYPES.join(', ')}, but '${column.type}' was provided`);
    }
    const allowed = ALLOWED_ACTIONS[column.classification];
    if (allowed === undefined) {
      problems.push(`${where}: classification must be one of ${Object.values(ColumnClassification).join(', ')}, but '${column.classification}' was provided`);
      continue;
    }
    const action = actionOf(column);
    if (action === undefined) {
      problems.push(`${where} is classified ${column.classification} but has no action; choose one of: ${allowed.join(', ')}`);
      continue;
    }
    if (!allowed.includes(action)) {
      problems.push(`${where}: a ${column.classification} column may only ${allowed.join(', ')}, but '${action}' was provided`);
    }
    if (action === ColumnAction.GENERALIZE && column.generalization === undefined) {
      problems.push(`${where}: action generalize needs a generalization rule (Generalization.bucket, round, truncateTimestamp, prefix or ipPrefix)`);
    }
    if (action !== ColumnAction.GENERALIZE && column.generalization !== undefined) {
      problems.push(`${where}: a generalization rule is given but the action is ${action}; use action generalize or remove the rule`);
    }
    if (column.subjectIdentifier !== undefined && action !== ColumnAction.PSEUDONYMIZE) {
      problems.push(`${where}: subjectIdentifier applies to pseudonymized columns only, but the action is ${action}`);
    }
    if (column.subjectIdentifier !== undefined && !NAME.test(column.subjectIdentifier)) {
      problems.push(`${where}: subjectIdentifier must be lower case letters, digits and underscores, starting with a letter, but '${column.subjectIdentifier}' was provided`);
    }
    if (action === ColumnAction.GENERALIZE && column.generalization) {
      problems.push(...column.generalization.problems.map((p) => `${where}: ${p}`));
      const width = column.generalization.rule.width;
      if (column.generalization.rule.kind === 'bucket' && column.type === 'bigint' && !Number.isInteger(width)) {
        problems.push(`${where}: a bucket width on a bigint column must be a whole number, but ${width} was provided`);
      }
      if (!column.generalization.inputTypes.includes(column.type)) {
        problems.push(`${where}: rule ${column.generalization.rule.kind} applies to ${column.generalization.inputTypes.join(' or ')} columns, but the column is ${column.type}`);
      }
    }
  }
  return problems;
}

/** A column of the curated (anonymized) dataset. */
export interface CuratedColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly comment?: string;
  /** The data subject identifier whose pseudonym the column holds (see ColumnDefinition.subjectIdentifier). */
  readonly subjectIdentifier?: string;
}

/** The curated dataset's columns: the raw ones that are not dropped, with their output types. */
export function curatedColumns(columns: readonly ColumnDefinition[]): CuratedColumn[] {
  return columns.flatMap((column): CuratedColumn[] => {
    const action = actionOf(column);
    if (action === ColumnAction.DROP) {
      return [];
    }
    const type = action === ColumnAction.PSEUDONYMIZE ? 'string'
      : action === ColumnAction.GENERALIZE && column.generalization ? column.generalization.outputType(column.type)
        : column.type;
    const subjectIdentifier = subjectIdentifierOf(column);
    return [{ name: column.name, type, comment: column.comment, ...(subjectIdentifier ? { subjectIdentifier } : {}) }];
  });
}

/** The policy file the anonymization script reads (see runtime/anonymize.py). */
export function anonymizationPolicy(dataset: string, format: RawFormat, columns: readonly ColumnDefinition[]): object {
  return {
    dataset,
    format,
    columns: columns.map((column) => ({
      name: column.name,
      type: column.type,
      classification: column.classification,
      action: actionOf(column),
      ...(column.generalization ? { rule: column.generalization.rule } : {}),
    })),
  };
}
