/**
 * Every request a blueprint's workflows send to AWS, checked before AWS sees it: each Task state of
 * each state machine of the ten blueprints, its Parameters evaluated with worst-case values (an
 * 80-character execution name, the longest names the templates allow), against botocore's model of
 * the API it calls. A failure lists every finding as `<stack> <state machine> <state> <member>: <why>`.
 */
import { BLUEPRINTS } from '../../blueprints';
import { synthAllBlueprints } from '../support/blueprint';
import { StackInfo } from '../support/requests/placeholders';
import { checkStackRequests, formatFinding, stackInfo } from '../support/requests/stack-requests';

const stacks: StackInfo[] = synthAllBlueprints().map(({ stack, resources }) => stackInfo(stack, resources));

const results = stacks.map((info) => ({ stack: info.stackName, ...checkStackRequests(info) }));

test('every Task request of every blueprint is one AWS accepts', () => {
  const findings = results.flatMap((r) => r.findings).map(formatFinding);
  expect(findings).toEqual([]);
});

test('every blueprint has workflows, and each of their tasks was checked', () => {
  expect(results).toHaveLength(BLUEPRINTS.length);
  for (const r of results) expect(r.tasks.length).toBeGreaterThan(0);
});

test('the jobs of a Distributed Map\'s children are checked too, with what the map hands each', () => {
  const visual = results.find((r) => r.stack.includes('VisualSearch'))!;
  const part = visual.tasks.find((t) => t.state === 'LoadVectors/LoadVectorsPart');
  expect(part?.operation).toBe('sagemaker:CreateProcessingJob');
  // The part's job as the simulation evaluated it (the part is one of 70, its folder's name bounded, not literal).
  expect(JSON.stringify(part?.request)).toContain('"ClusterConfig":{"InstanceCount":100,"InstanceType":"ml.m5.large"');
});
