/**
 * AWS's default values of the quotas a blueprint needs, each with the document it was read from.
 *
 * Only defaults that a document states are here; every other quota reads "check the console".
 * SageMaker's per-instance-type quotas and ElastiCache's nodes per Region are among those: their
 * defaults differ by account and instance type, and no AWS page consulted states one for them.
 * The documents were read through stored copies (the search tool's docs corpus and the awsdocs
 * repositories on GitHub), not live: a default may have changed since; the console is the truth.
 */

/**
 * How a workflow state's `Comment` starts when its job runs at most once per execution even inside
 * a Map state (one item of the Map's list reaches it): the quota counter counts its instances in
 * one iteration, not in every concurrent one. The rest of the comment says why.
 */
export const ONCE_PER_EXECUTION = 'Runs at most once per execution';

/** A default as the README shows it. */
export interface QuotaDefault {
  /** The value in the region, when the document states one. */
  readonly value?: number;
  /** What the table shows: the value with its unit or caveat, or "check the console". */
  readonly text: string;
  /** Where the value comes from, as a footnote. */
  readonly source?: string;
}

/** What the table shows for a quota whose default no document states. */
export const CHECK_THE_CONSOLE: QuotaDefault = { text: 'check the console' };

/** The region where a default is not stated for every region. */
type RegionalDefault = (region: string) => QuotaDefault;

const LAMBDA_QUOTAS = 'AWS Lambda Developer Guide, "Lambda quotas" (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): '
  + 'Concurrent executions 1,000, and "New AWS accounts have reduced concurrency and memory quotas"';

/** Lambda "Concurrent executions": 1,000 a Region, less in new accounts. */
export const LAMBDA_CONCURRENT_EXECUTIONS: QuotaDefault = {
  value: 1000, text: '1,000 (less in new accounts)', source: LAMBDA_QUOTAS,
};

/**
 * Regions where API Gateway's account throttle defaults to 2,500 requests per second (burst 1,250):
 * Cape Town, Milan, Jakarta, UAE, Hyderabad, Melbourne, Spain, Zurich, Tel Aviv, Calgary, Malaysia,
 * Thailand, Mexico (Central), as the quotas page lists them by name.
 */
export const API_GATEWAY_LOW_DEFAULT_REGIONS: readonly string[] = [
  'af-south-1', 'eu-south-1', 'ap-southeast-3', 'me-central-1', 'ap-south-2', 'ap-southeast-4', 'eu-south-2',
  'eu-central-2', 'il-central-1', 'ca-west-1', 'ap-southeast-5', 'ap-southeast-7', 'mx-central-1',
];

const API_GATEWAY_QUOTAS = 'Amazon API Gateway Developer Guide, "Amazon API Gateway quotas" (docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): '
  + 'throttle quota per account and Region 10,000 requests per second with a burst bucket of 5,000 requests '
  + '(2,500 and 1,250 in the Regions it lists); "The burst quota is determined by the API Gateway service team based on the overall RPS quota '
  + '... It is not a quota that a customer can control or request changes to"';

/** API Gateway "Throttle rate" (account, per Region, all APIs), requests per second. */
export const API_GATEWAY_THROTTLE_RATE: RegionalDefault = (region) => (API_GATEWAY_LOW_DEFAULT_REGIONS.includes(region)
  ? { value: 2500, text: '2,500 requests/s', source: API_GATEWAY_QUOTAS }
  : { value: 10_000, text: '10,000 requests/s', source: API_GATEWAY_QUOTAS });

/** API Gateway burst (the token bucket's size): set by AWS from the throttle rate, not requestable. */
export const API_GATEWAY_THROTTLE_BURST: RegionalDefault = (region) => (API_GATEWAY_LOW_DEFAULT_REGIONS.includes(region)
  ? { value: 1250, text: '1,250 requests (raised by AWS with the rate)', source: API_GATEWAY_QUOTAS }
  : { value: 5000, text: '5,000 requests (raised by AWS with the rate)', source: API_GATEWAY_QUOTAS });

/** Regions where the Kinesis shard quota defaults to 20,000 shards. */
export const KINESIS_HIGH_DEFAULT_REGIONS: readonly string[] = ['us-east-1', 'us-west-2', 'eu-west-1'];

const KINESIS_QUOTAS = 'Amazon Kinesis Data Streams Developer Guide, "Quotas and limits" (docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html): '
  + 'provisioned mode, 20,000 shards per account in US East (N. Virginia), US West (Oregon) and Europe (Ireland), '
  + '"1,000 or 6,000" in all other Regions';

/** Kinesis Data Streams shards per Region, provisioned mode. */
export const KINESIS_SHARDS: RegionalDefault = (region) => (KINESIS_HIGH_DEFAULT_REGIONS.includes(region)
  ? { value: 20_000, text: '20,000', source: KINESIS_QUOTAS }
  // The page gives two values without saying which Region has which.
  : { text: '1,000 or 6,000: check the console', source: KINESIS_QUOTAS });

const AOSS_CAPACITY = 'Amazon OpenSearch Service Developer Guide, "Managing capacity limits for Amazon OpenSearch Serverless" '
  + '(awsdocs/amazon-opensearch-service-developer-guide, doc_source/serverless-scaling.md): "The default maximum capacity for both indexing and search is 10 OCUs"; '
  + 'that repository is an archived copy of the guide, so check the value in the console (Serverless > Dashboard > Capacity management)';

/** OpenSearch Serverless account capacity limits (an account setting, not a Service Quotas quota): 10 OCUs each. */
export const AOSS_MAX_SEARCH_OCUS: QuotaDefault = { value: 10, text: '10 OCUs', source: AOSS_CAPACITY };
export const AOSS_MAX_INDEXING_OCUS: QuotaDefault = { value: 10, text: '10 OCUs', source: AOSS_CAPACITY };
