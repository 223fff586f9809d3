import { RELEASE_DEFAULTS, RELEASE_ENV, readPromotionSettings, readRampSettings } from './contract';
import { ReleaseConfigError } from './errors';
import { DEPLOYMENT_CONFIG, ENDPOINT, GROUP, METRIC, PLACEMENT, RAMP_POLICY } from './testing/fixtures';
import { serviceModelProblems } from './testing/service-model';

const common = {
  [RELEASE_ENV.store]: JSON.stringify({ tableName: 'release-state' }),
  [RELEASE_ENV.endpoint]: JSON.stringify({ endpointName: ENDPOINT, championVariant: 'champion' }),
  [RELEASE_ENV.rampPolicy]: JSON.stringify(RAMP_POLICY),
};
const promotionEnv = {
  ...common,
  [RELEASE_ENV.modelPackageGroup]: GROUP,
  [RELEASE_ENV.modelPlacement]: JSON.stringify(PLACEMENT),
  [RELEASE_ENV.deploymentConfig]: JSON.stringify(DEPLOYMENT_CONFIG),
};
const rampEnv = { ...common, [RELEASE_ENV.businessMetric]: JSON.stringify({ ...METRIC, aggregate: undefined, windowHours: undefined }) };

function problemsOf(read: () => unknown): string[] {
  try {
    read();
  } catch (error) {
    if (error instanceof ReleaseConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('promotion settings', () => {
  test('reads a complete environment, with the store defaults', () => {
    const settings = readPromotionSettings(promotionEnv);
    expect(settings.store).toEqual({ tableName: 'release-state', partitionKey: 'pk', sortKey: 'sk', expiresAtAttribute: 'expiresAt', decisionRetentionDays: 400 });
    expect(settings.endpoint).toEqual({ endpointName: ENDPOINT, championVariant: 'champion' });
    expect(settings.plan?.schedulePercent).toEqual([5, 10, 25, 50]);
    expect(settings.placement).toEqual(PLACEMENT);
    expect(settings.deploymentConfig).toEqual(DEPLOYMENT_CONFIG);
  });

  test('the deployment config it accepts is valid for UpdateEndpoint', () => {
    const { deploymentConfig } = readPromotionSettings(promotionEnv);
    expect(serviceModelProblems('sagemaker', 'UpdateEndpoint', { EndpointName: ENDPOINT, EndpointConfigName: 'c', DeploymentConfig: deploymentConfig })).toEqual([]);
  });

  test('takes null for an unguarded update', () => {
    expect(readPromotionSettings({ ...promotionEnv, [RELEASE_ENV.deploymentConfig]: 'null' }).deploymentConfig).toBeNull();
  });

  test('fails with every missing variable at once', () => {
    expect(problemsOf(() => readPromotionSettings({}))).toEqual([
      'RELEASE_STORE must be set',
      'RELEASE_ENDPOINT must be set',
      'RELEASE_RAMP_POLICY must be set',
      'RELEASE_MODEL_PACKAGE_GROUP must be a SageMaker name (1-63 letters, digits and hyphens), but nothing was provided',
      'RELEASE_MODEL_PLACEMENT must be set',
      'RELEASE_DEPLOYMENT_CONFIG must be set',
    ]);
  });

  test('fails naming each bad field, what was received and what is allowed', () => {
    const problems = problemsOf(() => readPromotionSettings({
      ...promotionEnv,
      [RELEASE_ENV.store]: JSON.stringify({ tableName: 'x', sortKey: 'pk', decisionRetentionDays: 0 }),
      [RELEASE_ENV.endpoint]: JSON.stringify({ endpointName: 'bad_name', championVariant: 'champion', extra: 1 }),
      [RELEASE_ENV.rampPolicy]: JSON.stringify({ ...RAMP_POLICY, alpha: 2 }),
      [RELEASE_ENV.modelPlacement]: JSON.stringify({ ...PLACEMENT, executionRoleArn: 'role', subnetIds: [], enableNetworkIsolation: 'yes' }),
      [RELEASE_ENV.deploymentConfig]: '{not json',
    }));
    expect(problems).toEqual([
      'RELEASE_STORE.tableName must be a DynamoDB table name (3-255 letters, digits, _ . -), but "x" was provided',
      'RELEASE_STORE.decisionRetentionDays must be a whole number from 1 to 3650, but 0 was provided',
      'RELEASE_STORE attribute names must be three different names, but ["pk","pk","expiresAt"] was provided',
      'RELEASE_ENDPOINT has unknown field(s) extra; allowed: endpointName, championVariant',
      'RELEASE_ENDPOINT.endpointName must be a SageMaker name (1-63 letters, digits and hyphens), but "bad_name" was provided',
      'RELEASE_RAMP_POLICY.alpha must be a number in (0, 0.5], but 2 was provided',
      'RELEASE_MODEL_PLACEMENT.enableNetworkIsolation must be true or false, but "yes" was provided',
      'RELEASE_MODEL_PLACEMENT.executionRoleArn must be an IAM role ARN, but "role" was provided',
      'RELEASE_MODEL_PLACEMENT.subnetIds must be a list of 1 to 16 subnet ids, but [] was provided',
      'RELEASE_DEPLOYMENT_CONFIG must be JSON, but it does not parse',
    ]);
  });

  test.each([
    ['a rolling update', { RollingUpdatePolicy: {} }, 'RELEASE_DEPLOYMENT_CONFIG.RollingUpdatePolicy must be absent (SageMaker does not roll multi-variant endpoints; use BlueGreenUpdatePolicy), but {} was provided'],
    ['a canary over 50 %', { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'CANARY', WaitIntervalInSeconds: 600, CanarySize: { Type: 'CAPACITY_PERCENT', Value: 60 } } } },
      'RELEASE_DEPLOYMENT_CONFIG.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.CanarySize.Value must be a whole number from 1 to 50, but 60 was provided'],
    ['an unknown routing type', { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'SLOW', WaitIntervalInSeconds: 600 } } },
      'RELEASE_DEPLOYMENT_CONFIG.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type must be ALL_AT_ONCE, CANARY or LINEAR, but "SLOW" was provided'],
    ['a timeout under 600 s', { BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }, MaximumExecutionTimeoutInSeconds: 60 } },
      'RELEASE_DEPLOYMENT_CONFIG.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds must be a whole number from 600 to 28800, but 60 was provided'],
    ['no rollback alarms', { ...DEPLOYMENT_CONFIG, AutoRollbackConfiguration: { Alarms: [] } }, 'RELEASE_DEPLOYMENT_CONFIG.AutoRollbackConfiguration.Alarms must be a list of 1 to 10 alarms, but [] was provided'],
    ['camelCase keys', { ...DEPLOYMENT_CONFIG, blueGreenUpdatePolicy: {} }, 'RELEASE_DEPLOYMENT_CONFIG has unknown field(s) blueGreenUpdatePolicy; allowed: BlueGreenUpdatePolicy, AutoRollbackConfiguration, RollingUpdatePolicy'],
  ])('refuses %s', (_label, config, message) => {
    expect(problemsOf(() => readPromotionSettings({ ...promotionEnv, [RELEASE_ENV.deploymentConfig]: JSON.stringify(config) }))).toContain(message);
  });
});

describe('ramp settings', () => {
  test('reads a complete environment, with the metric and window defaults', () => {
    const settings = readRampSettings(rampEnv);
    expect(settings.metric).toEqual({ ...METRIC, aggregate: RELEASE_DEFAULTS.aggregate, windowHours: RELEASE_DEFAULTS.windowHours });
    expect(settings.guardrailWindowMinutes).toBe(60);
    expect(readRampSettings({ ...rampEnv, [RELEASE_ENV.guardrailWindowMinutes]: '30' }).guardrailWindowMinutes).toBe(30);
  });

  test('refuses identifiers that are not strict Glue names, so none reaches the SQL', () => {
    const problems = problemsOf(() => readRampSettings({
      ...rampEnv,
      [RELEASE_ENV.businessMetric]: JSON.stringify({ ...METRIC, subjectColumn: 'user_id" --', impressionsTable: 'Impressions', outcome: "click' OR '1'='1", aggregate: 'avg' }),
      [RELEASE_ENV.guardrailWindowMinutes]: 'an hour',
    }));
    expect(problems).toEqual([
      'RELEASE_BUSINESS_METRIC.aggregate must be "sum" or "count", but "avg" was provided',
      'RELEASE_BUSINESS_METRIC.impressionsTable must be a Glue name (lower-case letters, digits and underscores, not starting with a digit), but "Impressions" was provided',
      'RELEASE_BUSINESS_METRIC.subjectColumn must be a Glue name (lower-case letters, digits and underscores, not starting with a digit), but "user_id\\" --" was provided',
      'RELEASE_BUSINESS_METRIC.outcome must be an outcome name (1-64 letters, digits, _ and -), but "click\' OR \'1\'=\'1" was provided',
      'RELEASE_GUARDRAIL_WINDOW_MINUTES must be a whole number from 1 to 1440, but "an hour" was provided',
    ]);
  });
});
