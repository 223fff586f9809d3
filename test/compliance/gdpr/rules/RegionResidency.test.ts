import { aws_sqs as sqs } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-RegionResidency';

test('flags a stack outside the EU/EEA, once, naming the region', () => {
  const stack = fixtureStack({ env: { region: 'us-east-1' } });
  new sqs.CfnQueue(stack, 'First');
  new sqs.CfnQueue(stack, 'Second');
  expect(violatingPaths(stack, `${RULE}[region:us-east-1]`)).toEqual(['Fixture/First']);
});

test('flags a stack whose region is unknown at synth time', () => {
  const stack = fixtureStack({ env: {} });
  new sqs.CfnQueue(stack, 'Queue');
  expect(violatingPaths(stack, `${RULE}[region:unresolved]`)).toEqual(['Fixture/Queue']);
});

test('passes a stack in an EU/EEA region', () => {
  const stack = fixtureStack({ env: { region: 'eu-central-1' } });
  new sqs.CfnQueue(stack, 'Queue');
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes a region the app added to the allow-list explicitly', () => {
  const stack = fixtureStack({ env: { region: 'eu-west-2' } }, { extraRegions: 'eu-west-2' });
  new sqs.CfnQueue(stack, 'Queue');
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
