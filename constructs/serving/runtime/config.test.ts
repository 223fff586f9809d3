import { ConfigError, loadPipelineConfig, validatePipelineConfig } from './config';
import { PIPELINE_ENV } from './contract';
import { baseConfig, moderationConfig, type MutableConfig } from './test-support/fixtures';

function envOf(config: unknown): Record<string, string> {
  return { [PIPELINE_ENV]: JSON.stringify(config) };
}

function errorOf(mutate: (config: MutableConfig) => void, base: () => MutableConfig = baseConfig): string {
  const config = base();
  mutate(config);
  try {
    loadPipelineConfig(envOf(config));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('no ConfigError');
}

test('the fixtures are valid pipelines', () => {
  expect(loadPipelineConfig(envOf(baseConfig()))).toEqual(baseConfig());
  expect(validatePipelineConfig(moderationConfig())).toEqual(moderationConfig());
});

test('the variable must be present and JSON', () => {
  expect(() => loadPipelineConfig({})).toThrow(new ConfigError('SERVING_PIPELINE is required'));
  expect(() => loadPipelineConfig({ [PIPELINE_ENV]: '{' })).toThrow(new ConfigError('SERVING_PIPELINE must be valid JSON'));
  expect(() => loadPipelineConfig({ [PIPELINE_ENV]: '[]' })).toThrow(new ConfigError('SERVING_PIPELINE must be a JSON object'));
});

test.each<[string, (config: MutableConfig) => void, string]>([
  ['another version', (c) => Object.assign(c, { version: 2 }), 'SERVING_PIPELINE.version must be 1'],
  ['a misspelt key', (c) => Object.assign(c, { budgetMS: 5 }), 'SERVING_PIPELINE has unknown keys: budgetMS'],
  ['a name with spaces', (c) => (c.name = 'video rec'), 'SERVING_PIPELINE.name must be letters, digits, - and _ (at most 64)'],
  ['a zero budget', (c) => (c.budgetMs = 0), 'SERVING_PIPELINE.budgetMs must be an integer from 1 to 29000'],
  ['an unknown field type', (c) => Object.assign(c.request, { x: { type: 'date' } }), 'SERVING_PIPELINE.request.x.type must be one of string, number, boolean, string[], number[]'],
  ['an identifier that is no field', (c) => (c.identifiers = ['user_id', 'email']), 'SERVING_PIPELINE.identifiers[1] names "email", which is not a request field'],
  ['an optional subject', (c) => (c.request.user_id = { type: 'string' }), 'SERVING_PIPELINE.identifiers[0] (user_id) is the subject and must be required'],
  ['duplicate stage names', (c) => (c.stages[1].name = 'user-features'), 'SERVING_PIPELINE.stages[1].name "user-features" is used twice'],
  ['a stage named cache', (c) => (c.stages[1].name = 'cache'), 'SERVING_PIPELINE.stages[1].name "cache" is reserved for the feature cache'],
  ['an unknown stage kind', (c) => Object.assign(c.stages[1], { kind: 'magic' }), 'SERVING_PIPELINE.stages[1].kind must be one of features, embed, lookupVector, knn, textSearch, requestCandidates, popular, rank, rerank, act'],
  ['a feature source before its stage', (c) => c.stages.reverse(), 'SERVING_PIPELINE.stages[1].context.age.feature names "age_bucket", which no subject group of an earlier features stage reads'],
  ['k-NN without a vector stage', (c) => c.stages.splice(1, 1), 'SERVING_PIPELINE.stages[1] needs an earlier embed or lookupVector stage'],
  ['a collection endpoint with a path', (c) => Object.assign(c.stages[2], { collectionEndpoint: 'https://x.aoss.amazonaws.com/videos' }), 'SERVING_PIPELINE.stages[2].collectionEndpoint must be an http(s) URL without a path'],
  ['request candidates from an identifier', (c) => Object.assign(c.stages[3], { field: 'user_id' }), 'SERVING_PIPELINE.stages[3].field must not name an identifier (user_id)'],
  ['a popular key from an identifier', (c) => Object.assign(c.stages[4], { key: 'popular#{user_id}' }), 'SERVING_PIPELINE.stages[4].key placeholder {user_id} must not name an identifier (user_id)'],
  ['a popular fallback key from an identifier', (c) => Object.assign(c.stages[4], { fallbackKey: 'popular#{user_id}' }), 'SERVING_PIPELINE.stages[4].fallbackKey placeholder {user_id} must not name an identifier (user_id)'],
  ['an empty popular fallback key', (c) => Object.assign(c.stages[4], { fallbackKey: '' }), 'SERVING_PIPELINE.stages[4].fallbackKey must be a non-empty string'],
  ['variants without weight', (c) => Object.assign(c.stages[6], { variants: [{ name: 'a', weight: 0 }] }), 'SERVING_PIPELINE.stages[6].variants must have a positive total weight'],
  ['a reserved item field', (c) => (c.response.itemFields = ['score']), 'SERVING_PIPELINE.response.itemFields must not contain score'],
  ['a logged field clashing with the impression line', (c) => {
    c.request.position = { type: 'number' };
    if (c.log) c.log.requestFields = ['position'];
  }, 'SERVING_PIPELINE.log.requestFields[0] (position) clashes with an impression field'],
  ['an outcome of another type', (c) => Object.assign(c.log ?? {}, { outcomes: { click: 'string' } }), 'SERVING_PIPELINE.log.outcomes.click must be "boolean" or "number"'],
])('%s', (_what, mutate, message) => {
  expect(errorOf(mutate)).toBe(message);
});

test('act: review actions need a queue and must be decided by a rule or the default', () => {
  expect(errorOf((c) => {
    const act = c.stages[2];
    if (act.kind === 'act') delete act.reviewQueueUrl;
  }, moderationConfig)).toBe('SERVING_PIPELINE.stages[2].reviewQueueUrl is required when reviewActions is not empty');
  expect(errorOf((c) => {
    const act = c.stages[2];
    if (act.kind === 'act') act.reviewActions = ['escalate'];
  }, moderationConfig)).toBe('SERVING_PIPELINE.stages[2].reviewActions names "escalate", which no rule or the default decides');
  // The unscored action may be reviewed; it must be a string.
  const reviewedWhenUnscored = moderationConfig();
  Object.assign(reviewedWhenUnscored.stages[2], { unscoredAction: 'escalate', reviewActions: ['escalate'] });
  expect(() => loadPipelineConfig(envOf(reviewedWhenUnscored))).not.toThrow();
  expect(errorOf((c) => Object.assign(c.stages[2], { unscoredAction: 7 }), moderationConfig)).toMatch(/^SERVING_PIPELINE\.stages\[2\]\.unscoredAction must be a/);
});

test('every message starts with the variable name', () => {
  const broken: ((c: MutableConfig) => void)[] = [
    (c) => (c.maxRequestBytes = -1),
    (c) => (c.keySecretArn = 'not a secret id!'),
    (c) => (c.metricsNamespace = ''),
    (c) => Object.assign(c.stages[0], { groups: [] }),
  ];
  for (const mutate of broken) expect(errorOf(mutate)).toMatch(/^SERVING_PIPELINE[.\s]/);
});
