/**
 * A dated price table for what the kit deploys, used by `estimate.ts` and `npm run report`.
 *
 * AS OF 2025-01 (the month the figures describe), in USD, eu-west-1 (Ireland) only.
 * SOURCE: the AWS public price pages of each service (aws.amazon.com/<service>/pricing/, region
 * "Europe (Ireland)"), on-demand rates. The figures were written from those pages' published
 * rates as remembered, without network access; they were NOT fetched from the AWS Price List API.
 * CHECK EVERY FIGURE against the AWS price list (https://pricing.us-east-1.amazonaws.com, or
 * the service's pricing page) before using an estimate for a budget, and update `asOf` when you do.
 *
 * Other regions: no multipliers are given, because there is no source for them here; an
 * estimate for a region without a table fails naming the region. Add a table per region.
 *
 * An instance or node type missing from the table fails loudly (never priced at 0).
 */

/** Every rate the estimator needs for one region. */
export interface RegionPrices {
  /**
   * SageMaker, per instance-hour, on-demand. One rate per instance type for hosting (real-time
   * endpoints), training, processing and batch transform: the price list gives a rate per usage
   * type, and for these types in eu-west-1 they are (to the cent, as recalled) the same; check.
   */
  readonly sagemakerInstanceHour: Readonly<Record<string, number>>;
  /** ElastiCache node-hour, on-demand, Redis OSS engine. */
  readonly elasticacheNodeHour: Readonly<Record<string, number>>;
  /** Kinesis Data Streams, provisioned mode: per shard-hour. */
  readonly kinesisShardHour: number;
  /** Kinesis Data Streams, provisioned mode: per million PUT payload units (25 KB). */
  readonly kinesisPutPayloadUnitsPerMillion: number;
  /** OpenSearch Serverless: per OCU-hour (indexing and search are priced alike). */
  readonly opensearchServerlessOcuHour: number;
  /** Lambda, per GB-second of duration, by architecture. */
  readonly lambdaGbSecond: { readonly x86_64: number; readonly arm64: number };
  /** Lambda provisioned concurrency, per GB-second configured, by architecture. */
  readonly lambdaProvisionedGbSecond: { readonly x86_64: number; readonly arm64: number };
  /** Lambda duration while running on provisioned concurrency, per GB-second. */
  readonly lambdaProvisionedDurationGbSecond: { readonly x86_64: number; readonly arm64: number };
  /** Lambda, per million requests. */
  readonly lambdaRequestsPerMillion: number;
  /** API Gateway REST API, per million requests (first 333 million a month). */
  readonly apiGatewayRestPerMillion: number;
  /** Data Firehose, Direct PUT ingestion, per GB (first 500 TB a month, 5 KB increments). */
  readonly firehosePerGb: number;
  /** VPC interface endpoint, per endpoint per Availability Zone per hour. */
  readonly vpcInterfaceEndpointAzHour: number;
  /** KMS customer-managed key, per key-month. */
  readonly kmsKeyMonth: number;
  /** Secrets Manager, per secret-month. */
  readonly secretMonth: number;
  /** CloudWatch standard-resolution alarm, per alarm-month. */
  readonly cloudwatchAlarmMonth: number;
  /** CloudWatch dashboard, per dashboard-month (beyond the free three). */
  readonly cloudwatchDashboardMonth: number;
}

/** Discounts and conventions that are not list prices. Each one states its source. */
export interface PriceAssumptions {
  /** Hours in a month, AWS's own convention in its price pages and calculator. */
  readonly hoursPerMonth: number;
  /**
   * Managed spot training saving relative to on-demand. AWS states "up to 90%" (SageMaker
   * managed spot training documentation); the actual saving varies with type, zone and time.
   * 0.7 is this kit's planning figure, not an AWS figure.
   */
  readonly managedSpotDiscount: number;
  /**
   * ElastiCache for Valkey node-based clusters are priced 20% below Redis OSS (AWS announcement
   * of Valkey support, October 2024): factor applied to `elasticacheNodeHour`.
   */
  readonly valkeyNodeFactor: number;
}

/** The table: a date, a source, the assumptions, and one price set per region. */
export interface PriceTable {
  readonly asOf: string;
  readonly currency: 'USD';
  readonly source: string;
  readonly caveat: string;
  readonly assumptions: PriceAssumptions;
  readonly regions: Readonly<Record<string, RegionPrices>>;
}

const EU_WEST_1: RegionPrices = {
  sagemakerInstanceHour: {
    'ml.m5.large': 0.128,
    'ml.m5.xlarge': 0.256,
    'ml.m5.2xlarge': 0.512,
    'ml.c5.large': 0.115,
    'ml.c5.xlarge': 0.23,
    'ml.c5.2xlarge': 0.461,
    'ml.c5.4xlarge': 0.922,
    'ml.g4dn.xlarge': 0.822,
    'ml.g4dn.2xlarge': 1.175,
    'ml.g4dn.4xlarge': 1.88,
    'ml.g5.xlarge': 1.582,
    'ml.g5.2xlarge': 1.698,
    'ml.g5.4xlarge': 2.275,
    'ml.g6.xlarge': 1.127,
    'ml.g6.2xlarge': 1.363,
  },
  elasticacheNodeHour: {
    'cache.t4g.micro': 0.018,
    'cache.t4g.small': 0.036,
    'cache.t4g.medium': 0.073,
    'cache.r7g.large': 0.244,
    'cache.r7g.xlarge': 0.488,
    'cache.r7g.2xlarge': 0.975,
    'cache.r7g.4xlarge': 1.95,
  },
  kinesisShardHour: 0.015,
  kinesisPutPayloadUnitsPerMillion: 0.014,
  opensearchServerlessOcuHour: 0.24,
  lambdaGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  lambdaProvisionedGbSecond: { x86_64: 0.0000041667, arm64: 0.0000033334 },
  lambdaProvisionedDurationGbSecond: { x86_64: 0.0000097222, arm64: 0.0000077778 },
  lambdaRequestsPerMillion: 0.2,
  apiGatewayRestPerMillion: 3.5,
  firehosePerGb: 0.031,
  vpcInterfaceEndpointAzHour: 0.011,
  kmsKeyMonth: 1,
  secretMonth: 0.4,
  cloudwatchAlarmMonth: 0.1,
  cloudwatchDashboardMonth: 3,
};

/** The kit's price table. See the file header for its date, source and caveat. */
export const PRICES: PriceTable = {
  asOf: '2025-01',
  currency: 'USD',
  source: 'AWS public price pages per service (aws.amazon.com/<service>/pricing/), Europe (Ireland), on-demand; '
    + 'written from the published rates without network access, not fetched from the AWS Price List API',
  caveat: 'Planning figures only: check every rate against the AWS price list for your region and date before use. '
    + 'Savings plans, reserved nodes, free tiers, taxes and data transfer are not included.',
  assumptions: {
    hoursPerMonth: 730,
    managedSpotDiscount: 0.7,
    valkeyNodeFactor: 0.8,
  },
  regions: {
    'eu-west-1': EU_WEST_1,
  },
};

/** A price the table lacks: the estimate stops rather than price it at 0. */
export class MissingPriceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPriceError';
  }
}

/** The region's prices, or a loud failure naming the region and those the table has. */
export function regionPrices(table: PriceTable, region: string): RegionPrices {
  const prices = table.regions[region];
  if (!prices) {
    throw new MissingPriceError(`No price table for region '${region}' (as of ${table.asOf}); the table has: `
      + `${Object.keys(table.regions).join(', ')}. Add the region's rates to lib/cost/prices.ts from the AWS price list.`);
  }
  return prices;
}

/** One rate from a per-type map, or a loud failure naming the type. */
export function ratePerHour(map: Readonly<Record<string, number>>, type: string, what: string, region: string): number {
  const rate = map[type];
  if (rate === undefined || !(rate > 0)) {
    throw new MissingPriceError(`No ${what} price for '${type}' in ${region} in lib/cost/prices.ts; `
      + 'add it from the AWS price list (an unknown type is never priced at 0)');
  }
  return rate;
}
