import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { LogConfig } from './runtime/contract';
import { ColumnAction, ColumnClassification, ColumnDefinition, DataLake, Generalization, ICuratedDataset, RawIngestionStream, RowRetention } from '../data-lake';
import { KitError } from '../../lib/errors';
import { ServingLogVolume } from '../../lib/sizing';

/** What a serving path logs into the lake. */
export interface ServingLogOptions {
  /**
   * Request fields copied onto every impression line, each classified as a dataset column: the
   * raw zone's anonymization stage applies the action (pseudonymize the caller's id, generalize
   * the IP, …). The subject identifier must be one of them: outcomes carry it too. An identifier
   * is logged as its pseudonym, which is personal data: it must not be classified non-personal.
   */
  readonly requestColumns: readonly ColumnDefinition[];
  /** Outcomes the feedback route accepts (click, watch time, session length, …) and their value type. */
  readonly outcomes: Readonly<Record<string, 'boolean' | 'number'>>;
  /**
   * How `item_id` (the served item's id as the caller sent it, on impression and outcome lines) is
   * classified. Declare it an identifier to pseudonymize when the items' stores are keyed by
   * pseudonyms (a `requestCandidates` stage with `pseudonymize`), so the curated log joins them.
   * Its name must be `item_id` and its type `string`.
   * @default - a non-personal string column `item_id`
   */
  readonly itemColumn?: ColumnDefinition;
  /**
   * How long Firehose buffers before it writes an object (each starts one anonymization run).
   * @default Duration.minutes(5)
   */
  readonly bufferInterval?: Duration;
  /**
   * Outcomes the feedback route receives per served item: with the path's request rate and maxItems,
   * the log datasets' daily volume (lib/sizing's sizeServingLog), which sizes their anonymization
   * and the lake's raw eraser.
   * @default DEFAULT_OUTCOMES_PER_IMPRESSION (1)
   */
  readonly outcomesPerImpression?: number;
}

/** @internal */
export interface ServingLogProps {
  readonly name: string;
  readonly lake: DataLake;
  readonly options: ServingLogOptions;
  /** The request field of the subject (the first identifier). */
  readonly subjectField: string;
  /** The path decides an action per item (an `act` stage): impressions get an `action` column. */
  readonly actions?: boolean;
  /** Rows per day of each dataset, from the path's figures. @default - not stated */
  readonly volume?: ServingLogVolume;
  /** Of the path's traffic: the anonymization's busiest hour. */
  readonly peakToAverage?: number;
}

const C = ColumnClassification;
const NON_PERSONAL = (name: string, type: ColumnDefinition['type']): ColumnDefinition => ({ name, type, classification: C.NON_PERSONAL });
const HOUR = (name: string): ColumnDefinition => ({
  name, type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.truncateTimestamp('hour'),
});

/**
 * The serving path's two datasets in the lake, `<name>_impressions` (one row per served item) and
 * `<name>_outcomes` (one row per reported outcome), each fed by an encrypted Firehose stream into
 * the raw zone, anonymized like any other dataset. Joined on `request_id` and `item_id` they are
 * training data; grouped by `variant` they are the evidence of an A/B test.
 */
export class ServingLog extends Construct {
  public readonly impressionsDataset: ICuratedDataset;
  public readonly outcomesDataset: ICuratedDataset;
  public readonly impressions: RawIngestionStream;
  public readonly outcomes: RawIngestionStream;
  /** The handler's `log` configuration. */
  public readonly config: LogConfig;
  /** The request fields copied onto every impression line, as classified (the impressions' columns). */
  public readonly requestColumns: readonly ColumnDefinition[];
  /** How `item_id` is classified on both datasets. */
  public readonly itemColumn: ColumnDefinition;
  /** The subject's column on outcome lines (the first identifier; a pseudonym in the curated dataset). */
  public readonly subjectColumn: string;

  constructor(scope: Construct, id: string, props: ServingLogProps) {
    super(scope, id);
    const { lake, options, subjectField } = props;
    const subject = options.requestColumns.find((c) => c.name === subjectField);
    if (subject === undefined) {
      throw new KitError(`ServingPath ${scope.node.path}: log.requestColumns must classify the subject field '${subjectField}' `
        + `(outcomes carry it), but it lists ${options.requestColumns.map((c) => c.name).join(', ') || 'nothing'}`);
    }
    const item = options.itemColumn ?? NON_PERSONAL('item_id', 'string');
    if (item.name !== 'item_id' || item.type !== 'string') {
      throw new KitError(`ServingPath ${scope.node.path}: log.itemColumn must be the string column 'item_id' (the handler writes it), `
        + `but '${item.name}' of type ${item.type} was provided`);
    }
    this.requestColumns = options.requestColumns;
    this.itemColumn = item;
    this.subjectColumn = subject.name;
    const base = props.name.replace(/-/g, '_');
    this.impressionsDataset = lake.addDataset(`${base}_impressions`, {
      description: `Items served by the ${props.name} request path: one row per item, with the variant that ranked it`,
      retention: RowRetention.byTimeColumn('served_at'),
      volume: props.volume && { rowsPerDay: props.volume.impressionsPerDay, peakToAverage: props.peakToAverage },
      columns: [
        NON_PERSONAL('request_id', 'string'), HOUR('served_at'), ...options.requestColumns,
        NON_PERSONAL('variant', 'string'), item, NON_PERSONAL('position', 'bigint'),
        NON_PERSONAL('score', 'double'), ...(props.actions ? [NON_PERSONAL('action', 'string')] : []), NON_PERSONAL('degraded', 'string'),
      ],
    });
    this.outcomesDataset = lake.addDataset(`${base}_outcomes`, {
      description: `Outcomes reported for items the ${props.name} request path served (${Object.keys(options.outcomes).join(', ')})`,
      retention: RowRetention.byTimeColumn('received_at'),
      volume: props.volume && { rowsPerDay: props.volume.outcomesPerDay, peakToAverage: props.peakToAverage },
      columns: [
        NON_PERSONAL('request_id', 'string'), item, NON_PERSONAL('outcome', 'string'),
        NON_PERSONAL('value', 'double'), HOUR('received_at'), NON_PERSONAL('variant', 'string'), subject,
      ],
    });
    const buffering = { bufferInterval: options.bufferInterval };
    this.impressions = lake.addIngestionStream(`${base}_impressions`, buffering);
    this.outcomes = lake.addIngestionStream(`${base}_outcomes`, buffering);
    this.config = {
      impressionStream: this.impressions.deliveryStreamName,
      outcomeStream: this.outcomes.deliveryStreamName,
      requestFields: options.requestColumns.map((c) => c.name),
      outcomes: options.outcomes,
      ...(props.actions ? { actions: true } : {}),
    };
  }
}
