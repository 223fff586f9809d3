import { Duration, Stack, Tags, aws_iam as iam, aws_lambda as lambda, aws_s3 as s3, aws_sagemaker as sagemaker, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { DataCategory, addAnonymizationStageRunner, classify, markAnonymizationStage } from '../../../../lib/classification';
import { KitError } from '../../../../lib/errors';
import { kitApp } from '../../../support/app';
import { fixtureStack, gdprViolations, ruleIdsMatching } from '../../../support/gdpr';

const RULE = 'GDPR-AnonymizationStageIdentity';
const GUARD = 'GDPR-AnonymizationGuard';
const RAW = { category: DataCategory.RAW_PERSONAL, purpose: 'anonymization-input', retention: Duration.days(30) };

/** A raw bucket and a stage role run by a state machine that starts processing jobs as it. */
function stage(stack: Stack, options: { trust?: iam.IPrincipal; stateJson?: (roleArn: string) => Record<string, unknown> } = {}) {
  const raw = new s3.Bucket(stack, 'Raw');
  classify(raw, RAW);
  const role = new iam.Role(stack, 'Stage', { assumedBy: options.trust ?? new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  raw.grantRead(role);
  const task = new sfn.CustomState(stack, 'Anonymize', {
    stateJson: options.stateJson?.(role.roleArn) ?? {
      Type: 'Task',
      Resource: 'arn:aws:states:::sagemaker:createProcessingJob.sync',
      Parameters: { 'ProcessingJobName.$': '$$.Execution.Name', 'RoleArn': role.roleArn },
    },
  });
  const machine = new sfn.StateMachine(stack, 'Workflow', { definitionBody: sfn.DefinitionBody.fromChainable(task) });
  machine.role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['iam:PassRole'], resources: [role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
  }));
  markAnonymizationStage(role, machine);
  return { raw, role, machine };
}

function findings(stack: Stack): string[] {
  return ruleIdsMatching(stack, RULE).map((id) => id.slice(RULE.length + 1, -1)).sort();
}

test('passes a stage run by its registered state machine, which passes the role to SageMaker only', () => {
  const stack = fixtureStack();
  stage(stack);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  expect(ruleIdsMatching(stack, GUARD)).toEqual([]);
});

test('passes a stage run by its registered Lambda function', () => {
  const stack = fixtureStack();
  const raw = new s3.Bucket(stack, 'Raw');
  classify(raw, RAW);
  const fn = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1') });
  markAnonymizationStage(fn.role!, fn);
  raw.grantRead(fn.role!);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  expect(ruleIdsMatching(stack, GUARD)).toEqual([]);
});

test('a tag on a scope is no registration: every tagged role is unregistered, and none may read the raw zone', () => {
  const stack = fixtureStack();
  const raw = new s3.Bucket(stack, 'Raw');
  classify(raw, RAW);
  const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
  raw.grantRead(analyst);
  Tags.of(stack).add('mlsd:anonymization-stage', 'true');
  expect(findings(stack)).toEqual(['unregistered']);
  expect(ruleIdsMatching(stack, GUARD)).toEqual([expect.stringMatching(/^GDPR-AnonymizationGuard\[Analyst[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/)]);
});

test('flags a trust policy that lets an account or another service assume the stage', () => {
  const stack = fixtureStack();
  stage(stack, { trust: new iam.CompositePrincipal(new iam.ServicePrincipal('sagemaker.amazonaws.com'), new iam.AccountPrincipal('210987654321'), new iam.ServicePrincipal('ec2.amazonaws.com')) });
  expect(findings(stack)).toEqual([
    expect.stringMatching(/^trust:AWS=/),
    'trust:ec2.amazonaws.com',
  ]);
});

test('flags a role allowed to assume the stage, by reference or by wildcard', () => {
  const stack = fixtureStack();
  const { role } = stage(stack);
  const byArn = new iam.Role(stack, 'Debugger', { assumedBy: new iam.AccountRootPrincipal() });
  byArn.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [role.roleArn] }));
  const wild = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
  wild.addToPolicy(new iam.PolicyStatement({ actions: ['sts:*'], resources: ['arn:aws:iam::*:role/*'] }));
  const unrelated = new iam.Role(stack, 'Other', { assumedBy: new iam.AccountRootPrincipal() });
  unrelated.addToPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::123456789012:role/deploy-*'] }));
  expect(findings(stack)).toEqual([expect.stringMatching(/^assume:Admin[0-9A-F]{8}$/), expect.stringMatching(/^assume:Debugger[0-9A-F]{8}$/)]);
});

test('flags PassRole on the stage by anyone but a runner\'s role, and a runner\'s PassRole without iam:PassedToService', () => {
  const stack = fixtureStack();
  const { role, machine } = stage(stack);
  const ci = new iam.Role(stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
  ci.addToPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: ['*'] }));
  machine.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [role.roleArn] }));
  expect(findings(stack)).toEqual([expect.stringMatching(/^passrole:Ci[0-9A-F]{8}$/), expect.stringMatching(/^passrole:WorkflowRole[0-9A-F]{8}$/)]);
});

test('flags what runs as the stage without being its runner: a function, a SageMaker model', () => {
  const stack = fixtureStack();
  const { role } = stage(stack);
  new lambda.Function(stack, 'Exporter', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => 1'), role });
  new sagemaker.CfnModel(stack, 'Model', { executionRoleArn: role.roleArn, primaryContainer: { image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1' } });
  expect(findings(stack)).toEqual([expect.stringMatching(/^runs-as:Exporter[0-9A-F]{8}$/), 'runs-as:Model']);
});

test('flags a runner state that names the stage for anything but a processing job (a training job here)', () => {
  const stack = fixtureStack();
  stage(stack, {
    stateJson: (roleArn) => ({
      Type: 'Task',
      Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync',
      Parameters: { 'TrainingJobName.$': '$$.Execution.Name', 'RoleArn': roleArn },
    }),
  });
  expect(findings(stack)).toEqual([expect.stringMatching(/^runner-state:Workflow[0-9A-F]{8}\/Anonymize$/)]);
});

test('a role of another stack passing the stage is found app-wide', () => {
  const app = kitApp();
  const data = new Stack(app, 'Data', { env: { region: 'eu-west-1', account: '123456789012' } });
  const { role } = stage(data);
  const ml = new Stack(app, 'Ml', { env: { region: 'eu-west-1', account: '123456789012' } });
  new iam.Role(ml, 'Launcher', { assumedBy: new iam.AccountRootPrincipal() })
    .addToPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [role.roleArn] }));
  const ids = gdprViolations(data).map((v) => v.ruleName).filter((n) => n.startsWith(`${RULE}[`));
  expect(ids).toEqual([expect.stringMatching(/^GDPR-AnonymizationStageIdentity\[passrole:Ml\/Launcher[0-9A-F]{8}\]$/)]);
});

test('runners must live in the role\'s stack and the role must be marked first, with the kit\'s error', () => {
  const app = kitApp();
  const a = new Stack(app, 'A');
  const b = new Stack(app, 'B');
  const role = new iam.Role(a, 'Stage', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  const elsewhere = new sfn.StateMachine(b, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(b, 'P')) });
  expect(() => addAnonymizationStageRunner(role, elsewhere)).toThrow(new KitError('A/Stage: is not an anonymization stage (markAnonymizationStage first), so B/Machine cannot run as it'));
  expect(() => markAnonymizationStage(role, elsewhere)).toThrow(/^B\/Machine: an anonymization stage's runner must be in the stack of its role \(A\), but it is in B$/);
});
