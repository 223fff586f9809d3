/**
 * The contract between the Serving construct (CDK, synth time) and its request handler (Lambda,
 * run time): the construct serializes a {@link PipelineConfig} into the function's environment
 * variable {@link PIPELINE_ENV}; the handler validates it once per container and runs the stages
 * in the declared order for every request.
 *
 * Everything here is plain data (JSON), so the same config drives the deployed function, the
 * local run and the tests.
 */

/** Environment variable holding the JSON {@link PipelineConfig}. */
export const PIPELINE_ENV = 'SERVING_PIPELINE';

/** The version of this contract; the handler refuses any other. */
export const PIPELINE_CONFIG_VERSION = 1;

/** The request routes the entry exposes. */
export const SERVE_ROUTE = '/serve';
export const FEEDBACK_ROUTE = '/feedback';

/** Types a request field may have. `string[]`/`number[]` are JSON arrays of those. */
export type RequestFieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'number[]';

/** One field a caller may send in a serve request body (a flat JSON object). */
export interface RequestField {
  readonly type: RequestFieldType;
  /** @default false */
  readonly required?: boolean;
  /** Strings: longest allowed; arrays: most elements. @default 256 for strings, 1000 for arrays */
  readonly maxLength?: number;
}

/**
 * Where a stage takes a value from:
 * - `{ request: 'language' }`: a request field (an identifier field yields its pseudonym, never the raw value);
 * - `{ feature: 'user_age' }`: a feature of the subject fetched by a `features` stage;
 * - `{ subject: true }`: the subject's pseudonym;
 * - `{ value: ... }`: a constant.
 */
export type ValueSource =
  | { readonly request: string }
  | { readonly feature: string }
  | { readonly subject: true }
  | { readonly value: string | number | boolean };

interface StageBase {
  /** Unique within the pipeline; appears in responses (`degraded`), logs and metrics. */
  readonly name: string;
  /** The stage's own time limit; on expiry it degrades as its kind says. */
  readonly timeoutMs: number;
}

/** Online features of the subject (and optionally of each candidate): cache first, Feature Store on a miss, written back. */
export interface FeaturesStage extends StageBase {
  readonly kind: 'features';
  readonly groups: readonly {
    readonly featureGroupName: string;
    /**
     * Whose record: the subject (key = pseudonym), every candidate (key = candidate id), or the
     * pair of the subject and a candidate's field value (`pairs`: key = `<subject pseudonym>|<value
     * of candidateField>`, e.g. user–author affinity keyed by both pseudonyms). Pair features land
     * on the candidate, like candidate features.
     */
    readonly of: 'subject' | 'candidates' | 'pairs';
    /**
     * `pairs` only (and required there): the candidate field whose value completes the key, a
     * field an earlier stage put on the candidates (a `candidates` group's feature or a k-NN return field).
     */
    readonly candidateField?: string;
    /** Feature names to read. */
    readonly features: readonly string[];
  }[];
  /** In-memory cache (Valkey/Redis, TLS, AUTH token from Secrets Manager). @default - none: Feature Store only */
  readonly cache?: {
    readonly host: string;
    readonly port: number;
    /** Secrets Manager ARN of the AUTH token (SecretString, plain). */
    readonly authSecretArn: string;
    /** @default true */
    readonly tls?: boolean;
    readonly ttlSeconds: number;
    /** Keys are `<keyPrefix><featureGroupName>:<record id>`. */
    readonly keyPrefix: string;
  };
  /** Degrade: missing features stay absent; the model sees its own defaults. */
}

/** One InvokeEndpoint whose JSON answer yields the query vector (user tower, query/image encoder). */
export interface EmbedStage extends StageBase {
  readonly kind: 'embed';
  readonly endpointName: string;
  /** The one instance sent, as `{"instances": [instance]}`: field name → source. */
  readonly input: Readonly<Record<string, ValueSource>>;
  /** Field of the answer (first instance if the answer is a list or `{predictions: [...]}`) holding the vector. */
  readonly outputField: string;
  /** Degrade: no query vector; k-NN stages are skipped and the fallback source answers. */
}

/** The query vector read from a DynamoDB item (ch 9: the listing's precomputed embedding). */
export interface LookupVectorStage extends StageBase {
  readonly kind: 'lookupVector';
  readonly tableName: string;
  /** Partition key attribute name and the request field (non-personal, e.g. listing id) giving its value. */
  readonly partitionKey: string;
  readonly keyFrom: ValueSource;
  /** Attribute holding the vector: a list of numbers, or a JSON string of one. */
  readonly attribute: string;
}

/** k-NN on an OpenSearch Serverless vector index (SigV4, service `aoss`). */
export interface KnnStage extends StageBase {
  readonly kind: 'knn';
  /** `https://<id>.<region>.aoss.amazonaws.com` */
  readonly collectionEndpoint: string;
  readonly region: string;
  readonly index: string;
  readonly vectorField: string;
  /** Document field that is the candidate's id. */
  readonly idField: string;
  readonly k: number;
  /** Document fields copied onto each candidate (used by filters, re-rank and the response). */
  readonly returnFields: readonly string[];
  /** Term filters applied inside the k-NN query (efficient filtering): document field = source value. */
  readonly filters?: readonly { readonly field: string; readonly equals: ValueSource }[];
  /** A subject feature holding a `|`-separated list of ids already seen; those ids are excluded. */
  readonly excludeSeenFeature?: string;
}

/** Default constant of reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009; OpenSearch's `rank_constant`). */
export const DEFAULT_RRF_K = 60;

/**
 * How a source's hits join the candidates already found by earlier stages:
 * - `rrf`: reciprocal rank fusion. Each candidate scores Σ 1 / (k + rank) over the sources that
 *   found it (rank 1-based within each source); the candidates are re-ordered by that score, a
 *   candidate found by several sources appears once, and its `retrievalScore` becomes the fused
 *   score (so a degraded ranker keeps the fused order). Sources' raw scores (inner product,
 *   BM25) are on scales that cannot be compared; ranks can.
 * - `append`: the hits go after the candidates already there, in their own order (ids already
 *   present are dropped), as other sources add theirs.
 */
export type Fusion = { readonly method: 'rrf'; readonly k: number } | { readonly method: 'append' };

/**
 * Full-text search on an OpenSearch Serverless index (SigV4, service `aoss`): a `multi_match` of
 * the query text over text fields (BM25), with term filters. The chapter 4 text search over titles
 * and tags, a second source beside the visual k-NN search, fused with it.
 */
export interface TextSearchStage extends StageBase {
  readonly kind: 'textSearch';
  /** `https://<id>.<region>.aoss.amazonaws.com` */
  readonly collectionEndpoint: string;
  readonly region: string;
  readonly index: string;
  /** Document field that is the candidate's id. */
  readonly idField: string;
  /** Text fields matched, each optionally boosted (`title^2`). */
  readonly fields: readonly string[];
  /** Where the query text comes from (a request field, in practice). */
  readonly query: ValueSource;
  /** How many hits to fetch. */
  readonly k: number;
  /** Document fields copied onto each candidate. */
  readonly returnFields: readonly string[];
  /** Term filters (document field = source value), applied as non-scoring `bool.filter` clauses. */
  readonly filters?: readonly { readonly field: string; readonly equals: ValueSource }[];
  /** How the hits join earlier candidates. */
  readonly fusion: Fusion;
  /** Degrade: no hits added; the earlier candidates stay as they are (their order too). */
}

/** Candidates the caller passes in the request (a second source: targeted ads, followed authors' posts, nearby events). */
export interface RequestCandidatesStage extends StageBase {
  readonly kind: 'requestCandidates';
  /** Request field of type `string[]` holding candidate ids. */
  readonly field: string;
  /**
   * Replace each candidate id by its pseudonym (the lake's key, as for identifiers) before any
   * later stage sees it: for items whose stores are keyed by pseudonyms (the lake pseudonymizes
   * post ids). Responses answer the ids the caller sent; impression lines carry them raw, for the
   * raw zone's anonymization stage. Other sources' ids are not pseudonymized: mix them with care.
   * @default false
   */
  readonly pseudonymize?: boolean;
}

/**
 * The prediction cache's TTL attribute (epoch seconds). DynamoDB deletes an expired item only
 * within days, so readers of lists that must not outlive their producer check it themselves.
 */
export const CACHE_EXPIRY_ATTRIBUTE = 'expires_at';

/** Popular items from a DynamoDB item: the fallback when retrieval has nothing (cold start, a retrieval timeout). */
export interface PopularStage extends StageBase {
  readonly kind: 'popular';
  readonly tableName: string;
  readonly partitionKey: string;
  /** The item's key value, e.g. `popular` or `popular#<language>` with `{language}` filled from the request. */
  readonly key: string;
  /**
   * Read when `key` cannot be filled (the request lacks the field) or names no live item (a
   * language without a list of its own): typically the list over all requests, `popular`.
   * @default - none
   */
  readonly fallbackKey?: string;
  /** Attribute with a list of ids (or a JSON string of one). */
  readonly attribute: string;
  /** `always`: always adds; `fallback`: only when the candidates are empty at this point. @default 'fallback' */
  readonly when?: 'always' | 'fallback';
}

/** One InvokeEndpoint scoring every candidate; the variant is sticky per subject. */
export interface RankStage extends StageBase {
  readonly kind: 'rank';
  readonly endpointName: string;
  /** Production variants and their traffic weights; a subject hashes to one variant, always the same while weights stay. */
  readonly variants: readonly { readonly name: string; readonly weight: number }[];
  /** Fields sent per candidate besides `id` and the candidate's own fields: name → source. */
  readonly context: Readonly<Record<string, ValueSource>>;
  /** Field of each answer instance holding the score (answers are a list, one per candidate, or `{predictions: [...]}`). */
  readonly scoreField: string;
  /**
   * The weights the release loop sets at run time (constructs/release): its state item
   * (`pk` = `endpointKey`, `sk` = `state`) holds `trafficWeights`, read per container at most every
   * `refreshSeconds` in the background; `variants`' weights apply until a read succeeds.
   */
  readonly trafficWeights?: { readonly tableName: string; readonly endpointKey: string; readonly refreshSeconds: number };
  /** Degrade: keep the retrieval order, no variant recorded (`variant: null`). */
}

/** Re-ranking rules: dedupe, diversity, business and privacy rules. Never degrades (pure and local). */
export interface RerankStage extends StageBase {
  readonly kind: 'rerank';
  /** Drop later candidates with the same value of this field (near-duplicates share it). */
  readonly dedupeBy?: string;
  /** Diversity: at most `max` candidates per value of `field` in the response. */
  readonly maxPerValue?: { readonly field: string; readonly max: number };
  /** Privacy/business: drop candidates whose field equals the value (e.g. `private: true`). */
  readonly exclude?: readonly { readonly field: string; readonly equals: string | number | boolean }[];
  /** Drop candidates whose id equals the request field's value (the query item itself). */
  readonly excludeRequestField?: string;
}

/** Decisions from score thresholds (ch 5: take down, demote, send to review). */
export interface ActStage extends StageBase {
  readonly kind: 'act';
  /** Checked in order; the first rule whose score field reaches its threshold decides. */
  readonly rules: readonly { readonly scoreField: string; readonly atLeast: number; readonly action: string }[];
  /** Action when no rule fires. */
  readonly defaultAction: string;
  /**
   * Action for a candidate without the rules' scores (the scoring stage degraded): a moderation
   * path fails closed (e.g. `recheck`) instead of treating "no answer" as "harmless".
   * @default - defaultAction
   */
  readonly unscoredAction?: string;
  /** Action names that are also sent to the review queue (SQS, pseudonyms and scores only). */
  readonly reviewActions?: readonly string[];
  readonly reviewQueueUrl?: string;
}

export type StageConfig =
  | FeaturesStage | EmbedStage | LookupVectorStage | KnnStage | TextSearchStage | RequestCandidatesStage | PopularStage
  | RankStage | RerankStage | ActStage;

/** Impressions and outcomes into the lake's raw zone, through an encrypted Firehose delivery stream each. */
export interface LogConfig {
  /** Firehose delivery stream of impressions (one JSON line per served item). */
  readonly impressionStream: string;
  /** Firehose delivery stream of outcomes (one JSON line per feedback event). */
  readonly outcomeStream: string;
  /** Request fields copied onto impression lines (raw values: the raw zone's anonymization stage handles them). */
  readonly requestFields: readonly string[];
  /** Outcome names accepted by the feedback route and the type of their value. */
  readonly outcomes: Readonly<Record<string, 'boolean' | 'number'>>;
  /**
   * Impression lines carry each item's `action` (an `act` stage's decision): what a moderation
   * path did is its online metric (prevalence, proactive rate), not only the score.
   * @default false
   */
  readonly actions?: boolean;
}

export interface PipelineConfig {
  readonly version: typeof PIPELINE_CONFIG_VERSION;
  /** Short name of the request path, e.g. `vrec`: metric dimension and log field. */
  readonly name: string;
  /** The whole request's latency budget. */
  readonly budgetMs: number;
  /** Largest request body accepted (bytes); larger gets 413. */
  readonly maxRequestBytes: number;
  /** Secrets Manager ARN of the lake's pseudonymization key (SecretString: the key, plain or `{"key": "..."}`). */
  readonly keySecretArn: string;
  /** Request fields; identifiers are pseudonymized before any stage runs. */
  readonly request: Readonly<Record<string, RequestField>>;
  /** Request fields that identify a person, in order; the first is the subject (variant assignment, feature key). */
  readonly identifiers: readonly string[];
  readonly stages: readonly StageConfig[];
  /** How many items the response holds at most, and which candidate fields it shows. */
  readonly response: { readonly maxItems: number; readonly itemFields: readonly string[] };
  /** CloudWatch namespace of the embedded metrics (stage latency, degraded stages, outcomes per variant). */
  readonly metricsNamespace: string;
  /** @default - no impression or outcome log */
  readonly log?: LogConfig;
}
