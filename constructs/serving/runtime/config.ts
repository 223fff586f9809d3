/**
 * Validation of the {@link PipelineConfig} the Serving construct writes into the function's
 * environment. A config error is a deployment bug: the handler answers 500 and logs the message,
 * which names the offending field (config holds names and limits, never personal data).
 */
import {
  type ActStage,
  type EmbedStage,
  type FeaturesStage,
  type KnnStage,
  type LookupVectorStage,
  PIPELINE_CONFIG_VERSION,
  PIPELINE_ENV,
  type PipelineConfig,
  type PopularStage,
  type RankStage,
  type RequestCandidatesStage,
  type RequestField,
  type RequestFieldType,
  type RerankStage,
  type StageConfig,
  type TextSearchStage,
  type ValueSource,
} from './contract';
import { isJsonObject, type JsonObject } from './json';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const FIELD_TYPES: readonly RequestFieldType[] = ['string', 'number', 'boolean', 'string[]', 'number[]'];
const STAGE_KINDS = ['features', 'embed', 'lookupVector', 'knn', 'textSearch', 'requestCandidates', 'popular', 'rank', 'rerank', 'act'];
// Names end up as metric dimensions, log fields and JSON keys.
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const SAGEMAKER_NAME = /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,62}$/;
const FEATURE_GROUP_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:feature-group\/[a-zA-Z0-9_-]+$/;
// Secrets Manager accepts a name or an ARN as SecretId; the local run passes names.
const SECRET_ID = /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;
/** A text field of a `multi_match`, optionally boosted: `title`, `title^2`, `tags^0.5`. */
const BOOSTED_FIELD = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}(\^(\d+(\.\d+)?))?$/;
/** Reciprocal rank fusion's constant: OpenSearch's range for its own RRF (score-ranker-processor `rank_constant`). */
const MAX_RRF_K = 10_000;
/** The label the features stage records when its cache is down; a stage must not take it. */
export const CACHE_LABEL = 'cache';
const RESERVED_ITEM_FIELDS = ['id', 'score', 'action'];
// Fields the handler writes on impression and outcome lines; request fields copied there must differ.
const IMPRESSION_FIELDS = ['request_id', 'served_at', 'variant', 'item_id', 'position', 'score', 'action', 'degraded'];
const OUTCOME_FIELDS = ['request_id', 'item_id', 'outcome', 'value', 'received_at', 'variant'];
// API Gateway's longest integration timeout is 29 s; Lambda's payload limit is 6 MB.
const MAX_BUDGET_MS = 29_000;
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/**
 * Reads and validates `process.env[PIPELINE_ENV]`. Every error message starts with the variable's
 * name and the path of the field, e.g. `SERVING_PIPELINE.stages[2].timeoutMs must be ...`.
 */
export function loadPipelineConfig(env: Env): PipelineConfig {
  const text = env[PIPELINE_ENV];
  if (text === undefined || text.trim() === '') throw new ConfigError(`${PIPELINE_ENV} is required`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${PIPELINE_ENV} must be valid JSON`);
  }
  return validatePipelineConfig(parsed);
}

/** Validates a parsed config; the local run and tests call this with objects. */
export function validatePipelineConfig(value: unknown): PipelineConfig {
  return new Validator().pipeline(value);
}

class Validator {
  private request: Readonly<Record<string, RequestField>> = {};
  private identifiers: readonly string[] = [];
  /** Subject features listed by the features stages validated so far (sources must come after). */
  private readonly subjectFeatures = new Set<string>();
  /** Candidate fields put on candidates by the stages validated so far (features groups, k-NN return fields). */
  private readonly candidateFields = new Set<string>();
  private vectorStageSeen = false;

  pipeline(value: unknown): PipelineConfig {
    const root = PIPELINE_ENV;
    const config = this.object(value, root, [
      'version', 'name', 'budgetMs', 'maxRequestBytes', 'keySecretArn', 'request', 'identifiers', 'stages',
      'response', 'metricsNamespace', 'log',
    ]);
    if (config.version !== PIPELINE_CONFIG_VERSION) {
      throw new ConfigError(`${root}.version must be ${PIPELINE_CONFIG_VERSION}`);
    }
    this.matches(config.name, `${root}.name`, NAME, 'letters, digits, - and _ (at most 64)');
    this.integer(config.budgetMs, `${root}.budgetMs`, 1, MAX_BUDGET_MS);
    this.integer(config.maxRequestBytes, `${root}.maxRequestBytes`, 2, MAX_REQUEST_BYTES);
    this.matches(config.keySecretArn, `${root}.keySecretArn`, SECRET_ID, 'a Secrets Manager secret ARN or name');
    this.request = this.requestFields(config.request, `${root}.request`);
    this.identifiers = this.identifierList(config.identifiers, `${root}.identifiers`);
    const stages = this.array(config.stages, `${root}.stages`);
    if (stages.length === 0) throw new ConfigError(`${root}.stages must not be empty`);
    const names = new Set<string>();
    stages.forEach((stage, index) => {
      const path = `${root}.stages[${index}]`;
      const name = this.stage(stage, path);
      if (names.has(name)) throw new ConfigError(`${path}.name ${JSON.stringify(name)} is used twice`);
      names.add(name);
    });
    this.responseConfig(config.response, `${root}.response`);
    this.matches(config.metricsNamespace, `${root}.metricsNamespace`, /^[^:\s][^:]{0,254}$/, 'a CloudWatch namespace');
    if (config.log !== undefined) this.logConfig(config.log, `${root}.log`);
    return value as PipelineConfig;
  }

  // -------------------------------------------------------------------------------------------
  // Request fields and identifiers
  // -------------------------------------------------------------------------------------------

  private requestFields(value: unknown, path: string): Record<string, RequestField> {
    const fields = this.object(value, path);
    for (const [name, field] of Object.entries(fields)) {
      const fieldPath = `${path}.${name}`;
      if (!FIELD_NAME.test(name)) throw new ConfigError(`${fieldPath} is not a valid field name`);
      const spec = this.object(field, fieldPath, ['type', 'required', 'maxLength']);
      if (!FIELD_TYPES.includes(spec.type as RequestFieldType)) {
        throw new ConfigError(`${fieldPath}.type must be one of ${FIELD_TYPES.join(', ')}`);
      }
      if (spec.required !== undefined) this.boolean(spec.required, `${fieldPath}.required`);
      if (spec.maxLength !== undefined) this.integer(spec.maxLength, `${fieldPath}.maxLength`, 1, 1_000_000);
    }
    if (Object.keys(fields).length === 0) throw new ConfigError(`${path} must declare at least one field`);
    return fields as Record<string, RequestField>;
  }

  private identifierList(value: unknown, path: string): string[] {
    const identifiers = this.stringList(value, path, { allowEmpty: true });
    identifiers.forEach((name, index) => {
      const field = this.requestField(name, `${path}[${index}]`);
      if (field.type === 'boolean') throw new ConfigError(`${path}[${index}] (${name}) cannot be a boolean field`);
      if (index === 0) {
        // The subject keys features and variants: every request must carry exactly one.
        if (field.type !== 'string' && field.type !== 'number') {
          throw new ConfigError(`${path}[0] (${name}) is the subject and must be a string or number field`);
        }
        if (field.required !== true) throw new ConfigError(`${path}[0] (${name}) is the subject and must be required`);
      }
    });
    return identifiers;
  }

  private requestField(name: string, path: string): RequestField {
    const field = Object.hasOwn(this.request, name) ? this.request[name] : undefined;
    if (field === undefined) throw new ConfigError(`${path} names ${JSON.stringify(name)}, which is not a request field`);
    return field;
  }

  private nonIdentifierScalarField(name: string, path: string): RequestField {
    const field = this.requestField(name, path);
    if (this.identifiers.includes(name)) throw new ConfigError(`${path} must not name an identifier (${name})`);
    if (field.type.endsWith('[]')) throw new ConfigError(`${path} must name a scalar field (${name} is ${field.type})`);
    return field;
  }

  private requireSubject(path: string): void {
    if (this.identifiers.length === 0) throw new ConfigError(`${path} needs a subject: identifiers must not be empty`);
    if (OUTCOME_FIELDS.includes(this.identifiers[0])) {
      throw new ConfigError(`${path} cannot log outcomes: the subject field ${this.identifiers[0]} clashes with an outcome field`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Stages
  // -------------------------------------------------------------------------------------------

  private stage(value: unknown, path: string): string {
    const base = this.object(value, path);
    if (!STAGE_KINDS.includes(base.kind as string)) {
      throw new ConfigError(`${path}.kind must be one of ${STAGE_KINDS.join(', ')}`);
    }
    const name = this.matches(base.name, `${path}.name`, NAME, 'letters, digits, - and _ (at most 64)');
    if (name === CACHE_LABEL) throw new ConfigError(`${path}.name "${CACHE_LABEL}" is reserved for the feature cache`);
    // A limit above the budget is legal: at run time every limit is cut to the budget left.
    this.integer(base.timeoutMs, `${path}.timeoutMs`, 1, MAX_BUDGET_MS);
    const stage = value as StageConfig;
    switch (stage.kind) {
      case 'features':
        this.featuresStage(stage, path);
        break;
      case 'embed':
        this.embedStage(stage, path);
        break;
      case 'lookupVector':
        this.lookupVectorStage(stage, path);
        break;
      case 'knn':
        this.knnStage(stage, path);
        break;
      case 'textSearch':
        this.textSearchStage(stage, path);
        break;
      case 'requestCandidates':
        this.requestCandidatesStage(stage, path);
        break;
      case 'popular':
        this.popularStage(stage, path);
        break;
      case 'rank':
        this.rankStage(stage, path);
        break;
      case 'rerank':
        this.rerankStage(stage, path);
        break;
      case 'act':
        this.actStage(stage, path);
        break;
    }
    return name;
  }

  private featuresStage(stage: FeaturesStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'groups', 'cache']);
    const groups = this.array(stage.groups, `${path}.groups`);
    if (groups.length === 0) throw new ConfigError(`${path}.groups must not be empty`);
    // Fields this stage adds become available to later stages only: its lookups are planned at once.
    const added: string[] = [];
    groups.forEach((value, index) => {
      const groupPath = `${path}.groups[${index}]`;
      const group = this.object(value, groupPath, ['featureGroupName', 'of', 'candidateField', 'features']);
      const groupName = this.string(group.featureGroupName, `${groupPath}.featureGroupName`);
      if (!SAGEMAKER_NAME.test(groupName) && !FEATURE_GROUP_ARN.test(groupName)) {
        throw new ConfigError(`${groupPath}.featureGroupName must be a feature group name or ARN`);
      }
      if (group.of !== 'subject' && group.of !== 'candidates' && group.of !== 'pairs') {
        throw new ConfigError(`${groupPath}.of must be "subject", "candidates" or "pairs"`);
      }
      if (group.of === 'pairs') {
        this.requireSubject(`${groupPath}.of`);
        const field = this.string(group.candidateField, `${groupPath}.candidateField`);
        if (!this.candidateFields.has(field)) {
          throw new ConfigError(`${groupPath}.candidateField names ${JSON.stringify(field)}, which no earlier stage puts on the candidates`);
        }
      } else if (group.candidateField !== undefined) {
        throw new ConfigError(`${groupPath}.candidateField is for "pairs" groups only`);
      }
      const features = this.stringList(group.features, `${groupPath}.features`);
      if (group.of === 'subject') {
        this.requireSubject(`${groupPath}.of`);
        for (const feature of features) this.subjectFeatures.add(feature);
      } else {
        added.push(...features);
      }
    });
    for (const field of added) this.candidateFields.add(field);
    if (stage.cache !== undefined) {
      const cachePath = `${path}.cache`;
      const cache = this.object(stage.cache, cachePath, ['host', 'port', 'authSecretArn', 'tls', 'ttlSeconds', 'keyPrefix']);
      this.string(cache.host, `${cachePath}.host`);
      this.integer(cache.port, `${cachePath}.port`, 1, 65_535);
      this.matches(cache.authSecretArn, `${cachePath}.authSecretArn`, SECRET_ID, 'a Secrets Manager secret ARN or name');
      if (cache.tls !== undefined) this.boolean(cache.tls, `${cachePath}.tls`);
      this.integer(cache.ttlSeconds, `${cachePath}.ttlSeconds`, 1, 30 * 24 * 3600);
      if (typeof cache.keyPrefix !== 'string') throw new ConfigError(`${cachePath}.keyPrefix must be a string`);
    }
  }

  private embedStage(stage: EmbedStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'endpointName', 'input', 'outputField']);
    this.matches(stage.endpointName, `${path}.endpointName`, SAGEMAKER_NAME, 'a SageMaker endpoint name');
    const input = this.object(stage.input, `${path}.input`);
    if (Object.keys(input).length === 0) throw new ConfigError(`${path}.input must not be empty`);
    for (const [field, source] of Object.entries(input)) this.valueSource(source, `${path}.input.${field}`);
    this.string(stage.outputField, `${path}.outputField`);
    this.vectorStageSeen = true;
  }

  private lookupVectorStage(stage: LookupVectorStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'tableName', 'partitionKey', 'keyFrom', 'attribute']);
    this.matches(stage.tableName, `${path}.tableName`, TABLE_NAME, 'a DynamoDB table name');
    this.string(stage.partitionKey, `${path}.partitionKey`);
    this.valueSource(stage.keyFrom, `${path}.keyFrom`);
    this.string(stage.attribute, `${path}.attribute`);
    this.vectorStageSeen = true;
  }

  private knnStage(stage: KnnStage, path: string): void {
    this.object(stage, path, [
      'kind', 'name', 'timeoutMs', 'collectionEndpoint', 'region', 'index', 'vectorField', 'idField', 'k',
      'returnFields', 'filters', 'excludeSeenFeature',
    ]);
    this.collection(stage, path);
    this.string(stage.vectorField, `${path}.vectorField`);
    this.string(stage.idField, `${path}.idField`);
    this.integer(stage.k, `${path}.k`, 1, 10_000);
    for (const field of this.stringList(stage.returnFields, `${path}.returnFields`, { allowEmpty: true })) this.candidateFields.add(field);
    this.termFilters(stage.filters, path);
    if (stage.excludeSeenFeature !== undefined) {
      this.subjectFeature(this.string(stage.excludeSeenFeature, `${path}.excludeSeenFeature`), `${path}.excludeSeenFeature`);
    }
    // Without an earlier embed/lookupVector stage there is never a query vector: always skipped.
    if (!this.vectorStageSeen) throw new ConfigError(`${path} needs an earlier embed or lookupVector stage`);
  }

  private textSearchStage(stage: TextSearchStage, path: string): void {
    this.object(stage, path, [
      'kind', 'name', 'timeoutMs', 'collectionEndpoint', 'region', 'index', 'idField', 'fields', 'query', 'k',
      'returnFields', 'filters', 'fusion',
    ]);
    this.collection(stage, path);
    this.string(stage.idField, `${path}.idField`);
    this.stringList(stage.fields, `${path}.fields`).forEach((field, index) => {
      if (!BOOSTED_FIELD.test(field)) {
        throw new ConfigError(`${path}.fields[${index}] must be a field name, optionally boosted with ^ and a number (title^2), but ${JSON.stringify(field)} was provided`);
      }
    });
    const query = this.valueSource(stage.query, `${path}.query`);
    // The query must be text: a pseudonym (subject or identifier) matches nothing and is no one's query.
    if ('subject' in query) throw new ConfigError(`${path}.query must be a request field, a subject feature or a constant, not the subject's pseudonym`);
    if ('request' in query) {
      const field = this.nonIdentifierScalarField(query.request, `${path}.query.request`);
      if (field.type !== 'string') throw new ConfigError(`${path}.query.request must name a string field (${query.request} is ${field.type})`);
    }
    if ('value' in query && typeof query.value !== 'string') throw new ConfigError(`${path}.query.value must be a string`);
    this.integer(stage.k, `${path}.k`, 1, 10_000);
    for (const field of this.stringList(stage.returnFields, `${path}.returnFields`, { allowEmpty: true })) this.candidateFields.add(field);
    this.termFilters(stage.filters, path);
    const fusion = this.object(stage.fusion, `${path}.fusion`, ['method', 'k']);
    if (fusion.method === 'rrf') {
      this.integer(fusion.k, `${path}.fusion.k`, 1, MAX_RRF_K);
    } else if (fusion.method === 'append') {
      if (fusion.k !== undefined) throw new ConfigError(`${path}.fusion.k is for method "rrf" only`);
    } else {
      throw new ConfigError(`${path}.fusion.method must be "rrf" or "append"`);
    }
  }

  /** The OpenSearch collection of a k-NN or text search stage: endpoint and region. */
  private collection(stage: KnnStage | TextSearchStage, path: string): void {
    const endpoint = this.string(stage.collectionEndpoint, `${path}.collectionEndpoint`);
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ConfigError(`${path}.collectionEndpoint must be an http(s) URL`);
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (url.pathname !== '/' && url.pathname !== '')) {
      throw new ConfigError(`${path}.collectionEndpoint must be an http(s) URL without a path`);
    }
    this.matches(stage.region, `${path}.region`, REGION, 'an AWS region');
    this.string(stage.index, `${path}.index`);
  }

  private termFilters(filters: unknown, path: string): void {
    if (filters === undefined) return;
    this.array(filters, `${path}.filters`).forEach((value, index) => {
      const filterPath = `${path}.filters[${index}]`;
      const filter = this.object(value, filterPath, ['field', 'equals']);
      this.string(filter.field, `${filterPath}.field`);
      this.valueSource(filter.equals, `${filterPath}.equals`);
    });
  }

  private requestCandidatesStage(stage: RequestCandidatesStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'field', 'pseudonymize']);
    if (stage.pseudonymize !== undefined) this.boolean(stage.pseudonymize, `${path}.pseudonymize`);
    const name = this.string(stage.field, `${path}.field`);
    const field = this.requestField(name, `${path}.field`);
    // Candidate ids are item ids that end up in responses and logs; a person's id is not one.
    if (this.identifiers.includes(name)) throw new ConfigError(`${path}.field must not name an identifier (${name})`);
    if (field.type !== 'string[]' && field.type !== 'string') {
      throw new ConfigError(`${path}.field must name a string[] (or single string) field`);
    }
  }

  private popularStage(stage: PopularStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'tableName', 'partitionKey', 'key', 'fallbackKey', 'attribute', 'when']);
    this.matches(stage.tableName, `${path}.tableName`, TABLE_NAME, 'a DynamoDB table name');
    this.string(stage.partitionKey, `${path}.partitionKey`);
    const keys: [string, unknown][] = [['key', stage.key], ...(stage.fallbackKey !== undefined ? [['fallbackKey', stage.fallbackKey] as [string, unknown]] : [])];
    for (const [name, value] of keys) {
      const key = this.string(value, `${path}.${name}`);
      for (const match of key.matchAll(PLACEHOLDER)) this.nonIdentifierScalarField(match[1], `${path}.${name} placeholder {${match[1]}}`);
    }
    this.string(stage.attribute, `${path}.attribute`);
    if (stage.when !== undefined && stage.when !== 'always' && stage.when !== 'fallback') {
      throw new ConfigError(`${path}.when must be "always" or "fallback"`);
    }
  }

  private rankStage(stage: RankStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'endpointName', 'variants', 'context', 'scoreField', 'trafficWeights']);
    if (stage.trafficWeights !== undefined) {
      const weightsPath = `${path}.trafficWeights`;
      const weights = this.object(stage.trafficWeights, weightsPath, ['tableName', 'endpointKey', 'refreshSeconds']);
      this.matches(weights.tableName, `${weightsPath}.tableName`, TABLE_NAME, 'a DynamoDB table name');
      if (this.string(weights.endpointKey, `${weightsPath}.endpointKey`) !== stage.endpointName) {
        throw new ConfigError(`${weightsPath}.endpointKey must be the stage's endpointName (${stage.endpointName}): the weights are that endpoint's`);
      }
      const refresh = weights.refreshSeconds;
      if (typeof refresh !== 'number' || !Number.isInteger(refresh) || refresh < 1 || refresh > 3600) {
        throw new ConfigError(`${weightsPath}.refreshSeconds must be a whole number from 1 to 3600`);
      }
    }
    this.requireSubject(path);
    this.matches(stage.endpointName, `${path}.endpointName`, SAGEMAKER_NAME, 'a SageMaker endpoint name');
    const variants = this.array(stage.variants, `${path}.variants`);
    if (variants.length === 0) throw new ConfigError(`${path}.variants must not be empty`);
    const names = new Set<string>();
    let total = 0;
    variants.forEach((value, index) => {
      const variantPath = `${path}.variants[${index}]`;
      const variant = this.object(value, variantPath, ['name', 'weight']);
      const name = this.matches(variant.name, `${variantPath}.name`, SAGEMAKER_NAME, 'a production variant name');
      if (names.has(name)) throw new ConfigError(`${variantPath}.name ${JSON.stringify(name)} is used twice`);
      names.add(name);
      if (typeof variant.weight !== 'number' || !Number.isFinite(variant.weight) || variant.weight < 0) {
        throw new ConfigError(`${variantPath}.weight must be a finite number >= 0`);
      }
      total += variant.weight;
    });
    if (total <= 0) throw new ConfigError(`${path}.variants must have a positive total weight`);
    for (const [field, source] of Object.entries(this.object(stage.context, `${path}.context`))) {
      this.valueSource(source, `${path}.context.${field}`);
    }
    this.string(stage.scoreField, `${path}.scoreField`);
  }

  private rerankStage(stage: RerankStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'dedupeBy', 'maxPerValue', 'exclude', 'excludeRequestField']);
    if (stage.dedupeBy !== undefined) this.string(stage.dedupeBy, `${path}.dedupeBy`);
    if (stage.maxPerValue !== undefined) {
      const rule = this.object(stage.maxPerValue, `${path}.maxPerValue`, ['field', 'max']);
      this.string(rule.field, `${path}.maxPerValue.field`);
      this.integer(rule.max, `${path}.maxPerValue.max`, 1, 1_000_000);
    }
    if (stage.exclude !== undefined) {
      this.array(stage.exclude, `${path}.exclude`).forEach((value, index) => {
        const rulePath = `${path}.exclude[${index}]`;
        const rule = this.object(value, rulePath, ['field', 'equals']);
        this.string(rule.field, `${rulePath}.field`);
        this.scalar(rule.equals, `${rulePath}.equals`);
      });
    }
    if (stage.excludeRequestField !== undefined) {
      this.requestField(this.string(stage.excludeRequestField, `${path}.excludeRequestField`), `${path}.excludeRequestField`);
    }
  }

  private actStage(stage: ActStage, path: string): void {
    this.object(stage, path, ['kind', 'name', 'timeoutMs', 'rules', 'defaultAction', 'unscoredAction', 'reviewActions', 'reviewQueueUrl']);
    const actions = new Set<string>([this.string(stage.defaultAction, `${path}.defaultAction`)]);
    if (stage.unscoredAction !== undefined) actions.add(this.string(stage.unscoredAction, `${path}.unscoredAction`));
    this.array(stage.rules, `${path}.rules`).forEach((value, index) => {
      const rulePath = `${path}.rules[${index}]`;
      const rule = this.object(value, rulePath, ['scoreField', 'atLeast', 'action']);
      this.string(rule.scoreField, `${rulePath}.scoreField`);
      if (typeof rule.atLeast !== 'number' || !Number.isFinite(rule.atLeast)) {
        throw new ConfigError(`${rulePath}.atLeast must be a finite number`);
      }
      actions.add(this.string(rule.action, `${rulePath}.action`));
    });
    const review = stage.reviewActions === undefined ? [] : this.stringList(stage.reviewActions, `${path}.reviewActions`);
    for (const action of review) {
      if (!actions.has(action)) throw new ConfigError(`${path}.reviewActions names ${JSON.stringify(action)}, which no rule or the default decides`);
    }
    if (stage.reviewQueueUrl !== undefined) {
      const url = this.string(stage.reviewQueueUrl, `${path}.reviewQueueUrl`);
      if (!/^https?:\/\/\S+$/.test(url)) throw new ConfigError(`${path}.reviewQueueUrl must be an SQS queue URL`);
    } else if (review.length > 0) {
      throw new ConfigError(`${path}.reviewQueueUrl is required when reviewActions is not empty`);
    }
  }

  private valueSource(value: unknown, path: string): ValueSource {
    const source = this.object(value, path);
    const keys = Object.keys(source);
    if (keys.length !== 1) throw new ConfigError(`${path} must have exactly one of request, feature, subject, value`);
    if (source.request !== undefined) {
      this.requestField(this.string(source.request, `${path}.request`), `${path}.request`);
    } else if (source.feature !== undefined) {
      this.subjectFeature(this.string(source.feature, `${path}.feature`), `${path}.feature`);
    } else if (source.subject !== undefined) {
      if (source.subject !== true) throw new ConfigError(`${path}.subject must be true`);
      this.requireSubject(path);
    } else if (source.value !== undefined) {
      this.scalar(source.value, `${path}.value`);
    } else {
      throw new ConfigError(`${path} must have exactly one of request, feature, subject, value`);
    }
    return value as ValueSource;
  }

  private subjectFeature(name: string, path: string): void {
    if (!this.subjectFeatures.has(name)) {
      throw new ConfigError(`${path} names ${JSON.stringify(name)}, which no subject group of an earlier features stage reads`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Response and log
  // -------------------------------------------------------------------------------------------

  private responseConfig(value: unknown, path: string): void {
    const response = this.object(value, path, ['maxItems', 'itemFields']);
    this.integer(response.maxItems, `${path}.maxItems`, 1, 1000);
    for (const field of this.stringList(response.itemFields, `${path}.itemFields`, { allowEmpty: true })) {
      if (RESERVED_ITEM_FIELDS.includes(field)) throw new ConfigError(`${path}.itemFields must not contain ${field}`);
    }
  }

  private logConfig(value: unknown, path: string): void {
    const log = this.object(value, path, ['impressionStream', 'outcomeStream', 'requestFields', 'outcomes', 'actions']);
    if (log.actions !== undefined) this.boolean(log.actions, `${path}.actions`);
    this.matches(log.impressionStream, `${path}.impressionStream`, STREAM_NAME, 'a Firehose delivery stream name');
    this.matches(log.outcomeStream, `${path}.outcomeStream`, STREAM_NAME, 'a Firehose delivery stream name');
    this.stringList(log.requestFields, `${path}.requestFields`, { allowEmpty: true }).forEach((name, index) => {
      this.requestField(name, `${path}.requestFields[${index}]`);
      if (IMPRESSION_FIELDS.includes(name)) throw new ConfigError(`${path}.requestFields[${index}] (${name}) clashes with an impression field`);
    });
    const outcomes = this.object(log.outcomes, `${path}.outcomes`);
    if (Object.keys(outcomes).length === 0) throw new ConfigError(`${path}.outcomes must not be empty`);
    for (const [name, type] of Object.entries(outcomes)) {
      if (!NAME.test(name)) throw new ConfigError(`${path}.outcomes.${name} is not a valid outcome name`);
      if (type !== 'boolean' && type !== 'number') throw new ConfigError(`${path}.outcomes.${name} must be "boolean" or "number"`);
    }
    if (this.identifiers.length === 0) throw new ConfigError(`${path} needs a subject: identifiers must not be empty`);
    if (OUTCOME_FIELDS.includes(this.identifiers[0])) {
      throw new ConfigError(`${path} cannot log outcomes: the subject field ${this.identifiers[0]} clashes with an outcome field`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Primitive checks
  // -------------------------------------------------------------------------------------------

  /** A JSON object; with `allowed`, other keys are errors (a misspelt option must not pass silently). */
  private object(value: unknown, path: string, allowed?: readonly string[]): JsonObject {
    if (!isJsonObject(value)) throw new ConfigError(`${path} must be a JSON object`);
    if (allowed) {
      const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
      if (unknown.length > 0) throw new ConfigError(`${path} has unknown keys: ${unknown.join(', ')}`);
    }
    return value;
  }

  private array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) throw new ConfigError(`${path} must be a JSON array`);
    return value;
  }

  private string(value: unknown, path: string): string {
    if (typeof value !== 'string' || value === '') throw new ConfigError(`${path} must be a non-empty string`);
    return value;
  }

  private matches(value: unknown, path: string, pattern: RegExp, what: string): string {
    if (typeof value !== 'string' || !pattern.test(value)) throw new ConfigError(`${path} must be ${what}`);
    return value;
  }

  private stringList(value: unknown, path: string, options: { allowEmpty?: boolean } = {}): string[] {
    const list = this.array(value, path);
    if (list.length === 0 && options.allowEmpty !== true) throw new ConfigError(`${path} must not be empty`);
    const seen = new Set<string>();
    list.forEach((item, index) => {
      const text = this.string(item, `${path}[${index}]`);
      if (seen.has(text)) throw new ConfigError(`${path} contains ${JSON.stringify(text)} twice`);
      seen.add(text);
    });
    return list as string[];
  }

  private integer(value: unknown, path: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${path} must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  private boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') throw new ConfigError(`${path} must be true or false`);
    return value;
  }

  private scalar(value: unknown, path: string): void {
    const ok = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) throw new ConfigError(`${path} must be a string, finite number or boolean`);
  }
}
