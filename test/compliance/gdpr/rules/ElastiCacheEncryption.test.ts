import { Stack, aws_elasticache as elasticache, aws_kms as kms } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-ElastiCacheEncryption';

function protectedGroup(stack: Stack, overrides: Partial<elasticache.CfnReplicationGroupProps> = {}): elasticache.CfnReplicationGroup {
  const key = new kms.Key(stack, 'Key');
  return new elasticache.CfnReplicationGroup(stack, 'Cache', {
    replicationGroupDescription: 'sessions',
    engine: 'valkey',
    cacheNodeType: 'cache.t4g.small',
    numCacheClusters: 2,
    atRestEncryptionEnabled: true,
    kmsKeyId: key.keyArn,
    transitEncryptionEnabled: true,
    transitEncryptionMode: 'required',
    userGroupIds: ['sessions-users'],
    ...overrides,
  });
}

test('flags a replication group whose transit encryption mode is preferred', () => {
  const stack = fixtureStack();
  protectedGroup(stack, { transitEncryptionMode: 'preferred' });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[in-transit]`]);
  expect(violatingPaths(stack, `${RULE}[in-transit]`)).toEqual(['Fixture/Cache']);
});

test('flags every missing protection of a bare replication group', () => {
  const stack = fixtureStack();
  new elasticache.CfnReplicationGroup(stack, 'Cache', { replicationGroupDescription: 'sessions', engine: 'redis' });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual(
    ['at-rest', 'auth', 'customer-key', 'in-transit'].map((f) => `${RULE}[${f}]`),
  );
  expect(violatingPaths(stack, `${RULE}[at-rest]`)).toEqual(['Fixture/Cache']);
});

test('flags a serverless cache with the default key and no user group', () => {
  const stack = fixtureStack();
  new elasticache.CfnServerlessCache(stack, 'Cache', { engine: 'valkey', serverlessCacheName: 'sessions' });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[auth]`, `${RULE}[customer-key]`]);
  expect(violatingPaths(stack, `${RULE}[customer-key]`)).toEqual(['Fixture/Cache']);
});

test('flags a bare cache cluster', () => {
  const stack = fixtureStack();
  new elasticache.CfnCacheCluster(stack, 'Cache', { engine: 'redis', cacheNodeType: 'cache.t4g.small', numCacheNodes: 1 });
  expect(violatingPaths(stack, `${RULE}[use-replication-group]`)).toEqual(['Fixture/Cache']);
});

test('passes a replication group with customer-key at-rest, required in-transit encryption and RBAC', () => {
  const stack = fixtureStack();
  protectedGroup(stack);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes a replication group that leaves the transit mode to its required default and uses an AUTH token', () => {
  const stack = fixtureStack();
  protectedGroup(stack, { transitEncryptionMode: undefined, userGroupIds: undefined, authToken: '{{resolve:secretsmanager:cache-auth}}' });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes a serverless cache with a customer key and a user group', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new elasticache.CfnServerlessCache(stack, 'Cache', {
    engine: 'valkey', serverlessCacheName: 'sessions', kmsKeyId: key.keyArn, userGroupId: 'sessions-users',
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
