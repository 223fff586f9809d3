/**
 * Every request a blueprint's workflows send to AWS, checked before AWS sees it: each Task state of
 * each state machine of the ten blueprints, its Parameters evaluated with worst-case values (an
 * 80-character execution name, the longest names the templates allow), against botocore's model of
 * the API it calls. A failure lists every finding as `<stack> <state machine> <state> <member>: <why>`.
 */
import { BLUEPRINTS } from '../../blueprints';
import { createApp } from '../../lib/app';
import { kitApp } from '../support/app';
import { StackInfo } from '../support/requests/placeholders';
import { checkStackRequests, formatFinding, stackInfo } from '../support/requests/stack-requests';

const stacks: StackInfo[] = (() => {
  const saved = process.env.CDK_DEFAULT_ACCOUNT;
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  try {
    const app = kitApp({ alertEmail: 'oncall@example.com' });
    const created = createApp(app, { blueprints: BLUEPRINTS, complianceGate: false });
    const assembly = app.synth();
    return created.map((stack) => stackInfo(stack, assembly.getStackByName(stack.stackName).template.Resources));
  } finally {
    if (saved === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
    else process.env.CDK_DEFAULT_ACCOUNT = saved;
  }
})();

const results = stacks.map((info) => ({ stack: info.stackName, ...checkStackRequests(info) }));

test('every Task request of every blueprint is one AWS accepts', () => {
  const findings = results.flatMap((r) => r.findings).map(formatFinding);
  expect(findings).toEqual([]);
});

test('every blueprint has workflows, and each of their tasks was checked', () => {
  expect(results).toHaveLength(BLUEPRINTS.length);
  for (const r of results) expect(r.tasks.length).toBeGreaterThan(0);
});
