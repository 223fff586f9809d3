import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Aspects, CfnResource, RemovalPolicy, Stack, aws_lambda as lambda, aws_s3 as s3 } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { Network } from '../../constructs/network';
import { CdkSingletonCheckovSkips, checkovSkipsOf, skipCheckov } from '../../lib/compliance';
import { EncryptionKey, SecureFunction } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { REPO_ROOT, kitApp } from '../support/app';

const REASON = 'Invoked synchronously by the fixture\'s caller, which receives the error; no dead-letter queue applies.';
const VENV_PYTHON = path.join(REPO_ROOT, '.venv-checkov', 'bin', 'python');

/** A function with none of the settings checkov's Lambda checks look for (DLQ, reserved concurrency, VPC). */
function bareFunction(scope: Construct, id: string): lambda.CfnFunction {
  return new lambda.CfnFunction(scope, id, {
    code: { zipFile: 'exports.handler = async () => ({});' },
    handler: 'index.handler',
    runtime: 'nodejs22.x',
    role: 'arn:aws:iam::123456789012:role/fixture',
  });
}

function metadataOf(stack: Stack, resource: CfnResource): Record<string, unknown> {
  return Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(resource)].Metadata;
}

describe('skipCheckov', () => {
  test('writes the skip into the resource\'s metadata in the shape checkov reads, beside the metadata already there', () => {
    const stack = new Stack(kitApp(), 'S');
    const fn = bareFunction(stack, 'Fn');
    fn.addMetadata('owner', 'fixture');
    skipCheckov(fn, 'CKV_AWS_116', REASON);
    skipCheckov(fn, 'CKV_AWS_115', `${REASON} (concurrency)`);
    expect(metadataOf(stack, fn)).toMatchObject({
      owner: 'fixture',
      checkov: { skip: [{ id: 'CKV_AWS_116', comment: REASON }, { id: 'CKV_AWS_115', comment: `${REASON} (concurrency)` }] },
    });
  });

  test('skips on an L2\'s default child, and once per check when called again with the same reason', () => {
    const stack = new Stack(kitApp(), 'S');
    const bucket = new s3.Bucket(stack, 'B');
    skipCheckov(bucket, 'CKV_AWS_18', REASON);
    skipCheckov(bucket, 'CKV_AWS_18', REASON);
    expect(checkovSkipsOf(bucket)).toEqual([{ id: 'CKV_AWS_18', comment: REASON }]);
    expect(metadataOf(stack, bucket.node.defaultChild as CfnResource)).toMatchObject({ checkov: { skip: [{ id: 'CKV_AWS_18', comment: REASON }] } });
  });

  test.each([
    ['', /at least 40 characters, but '' was provided/],
    ['synchronous', /at least 40 characters, but 'synchronous' was provided/],
  ])('fails on a reason that says nothing: %j', (reason, message) => {
    const stack = new Stack(kitApp(), 'S');
    expect(() => skipCheckov(bareFunction(stack, 'Fn'), 'CKV_AWS_116', reason)).toThrow(message);
  });

  test.each(['CKV_AWS_*', 'AwsSolutions-L1', 'BC_AWS_GENERAL_64', 'ckv_aws_116'])('fails on an id that is not one of checkov\'s: %s', (id) => {
    const stack = new Stack(kitApp(), 'S');
    expect(() => skipCheckov(bareFunction(stack, 'Fn'), id, REASON)).toThrow(/must look like CKV_AWS_<n> or CKV2_AWS_<n>/);
  });

  test('fails on a second, different reason for the same check and resource', () => {
    const stack = new Stack(kitApp(), 'S');
    const fn = bareFunction(stack, 'Fn');
    skipCheckov(fn, 'CKV_AWS_116', REASON);
    expect(() => skipCheckov(fn, 'CKV_AWS_116', `${REASON} Said otherwise.`)).toThrow(/already skipped with another reason/);
  });

  test('fails on a construct that is no CloudFormation resource and has none as its default child', () => {
    const stack = new Stack(kitApp(), 'S');
    expect(() => skipCheckov(new Construct(stack, 'Plain'), 'CKV_AWS_116', REASON)).toThrow(KitError);
  });
});

describe('the kit\'s own skips', () => {
  test('SecureFunction skips the reserved-concurrency check only when it reserves none', () => {
    const stack = new Stack(kitApp(), 'S');
    const network = new Network(stack, 'Net');
    const encryptionKey = new EncryptionKey(stack, 'Key', { description: 'k' });
    const props = { entry: path.join(REPO_ROOT, 'constructs/serving/runtime/handler.ts'), description: 'Fixture function', encryptionKey, network };
    const open = new SecureFunction(stack, 'Open', props);
    const serialized = new SecureFunction(stack, 'Serialized', { ...props, reservedConcurrentExecutions: 1 });
    expect(checkovSkipsOf(open).map((s) => s.id)).toEqual(['CKV_AWS_115']);
    expect(checkovSkipsOf(serialized)).toEqual([]);
    // A synchronous caller receives the errors: no dead-letter queue, said once, in the function's own metadata.
    const called = new SecureFunction(stack, 'Called', { ...props, synchronousCaller: 'the fixture workflow\'s Lambda task, which fails the execution' });
    expect(checkovSkipsOf(called).find((s) => s.id === 'CKV_AWS_116')).toEqual({
      id: 'CKV_AWS_116',
      comment: 'Invoked synchronously by the fixture workflow\'s Lambda task, which fails the execution; a function\'s dead-letter queue receives only asynchronous invocations.',
    });
    // CKV_AWS_111 fixed rather than skipped: the network-interface actions name the account's interfaces, not *.
    const statements = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(open.executionRole.node.findChild('DefaultPolicy').node.defaultChild as CfnResource)]
      .Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;
    const onStar = statements.filter((s) => s.Resource === '*').flatMap((s) => [s.Action].flat());
    expect(onStar.sort()).toEqual(['ec2:DescribeNetworkInterfaces', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  test('aws-cdk-lib\'s singleton functions get the three Lambda skips, other functions none', () => {
    const stack = new Stack(kitApp(), 'S');
    // autoDeleteObjects brings the Custom::S3AutoDeleteObjectsCustomResourceProvider singleton.
    new s3.Bucket(stack, 'B', { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true });
    const own = bareFunction(stack, 'Own');
    Aspects.of(stack).add(new CdkSingletonCheckovSkips());
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Metadata?: { checkov?: { skip: Array<{ id: string }> } } }>;
    const skipsByFunction = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id, r]) => [id, (r.Metadata?.checkov?.skip ?? []).map((s) => s.id)]);
    expect(skipsByFunction).toEqual(expect.arrayContaining([[stack.getLogicalId(own), []]]));
    expect(skipsByFunction.filter(([id]) => id !== stack.getLogicalId(own))).toEqual([
      [expect.stringMatching(/^CustomS3AutoDeleteObjectsCustomResourceProviderHandler/), ['CKV_AWS_116', 'CKV_AWS_115', 'CKV_AWS_117']],
    ]);
  });
});

/**
 * The part no unit test can prove: that checkov reads what skipCheckov writes. A fixture template
 * with one skipped and one unskipped failing function goes through checkov itself, and through the
 * gate of `npm test` (scripts/checkov_templates.py). scripts/setup-local.sh installs .venv-checkov.
 */
describe('checkov on a synthesized fixture', () => {
  let out: string;
  let skipped: CfnResource;
  let unskipped: CfnResource;
  let unexplained: CfnResource;
  let stack: Stack;

  beforeAll(() => {
    if (!fs.existsSync(VENV_PYTHON)) {
      throw new Error(`checkov is not installed in .venv-checkov; run bash scripts/setup-local.sh (it installs requirements-checkov.txt)`);
    }
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'checkov-fixture-'));
    const app = kitApp({}, out);
    stack = new Stack(app, 'CheckovFixture');
    skipped = bareFunction(stack, 'Skipped');
    unskipped = bareFunction(stack, 'Unskipped');
    skipCheckov(skipped, 'CKV_AWS_116', REASON);
    // A skip written by hand, past the helper, without a reason: checkov honours it, the gate must not.
    unexplained = bareFunction(stack, 'Unexplained');
    unexplained.addMetadata('checkov', { skip: [{ id: 'CKV_AWS_116' }] });
    app.synth();
  });

  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test('checkov reports the skipped functions as skipped, with their reasons, and the other as failed', () => {
    const run = spawnSync(path.join(path.dirname(VENV_PYTHON), 'checkov'), [
      '--framework', 'cloudformation', '--check', 'CKV_AWS_116', '--output', 'json', '--compact', '--skip-download',
      '--file', path.join(out, 'CheckovFixture.template.json'),
    ], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    const results = JSON.parse(run.stdout).results;
    const resourceOf = (check: { resource: string }) => check.resource;
    expect(results.failed_checks.map(resourceOf)).toEqual([`AWS::Lambda::Function.${stack.getLogicalId(unskipped)}`]);
    const bySkipped = Object.fromEntries(results.skipped_checks.map((c: { resource: string; check_result: unknown }) => [c.resource, c.check_result]));
    expect(bySkipped).toEqual({
      [`AWS::Lambda::Function.${stack.getLogicalId(skipped)}`]: { result: 'SKIPPED', suppress_comment: REASON },
      [`AWS::Lambda::Function.${stack.getLogicalId(unexplained)}`]: { result: 'SKIPPED', suppress_comment: 'No comment provided' },
    });
  });

  test('the gate of npm test fails on the unskipped function and the skip without a reason, names both, and counts the template as failed', () => {
    const summary = path.join(out, 'summary.json');
    const run = spawnSync(VENV_PYTHON, [path.join(REPO_ROOT, 'scripts', 'checkov_templates.py'), out, '--summary', summary], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    const unskippedId = stack.getLogicalId(unskipped);
    expect(run.stdout).toContain(`FAILED  CKV_AWS_116 CheckovFixture.template.json AWS::Lambda::Function.${unskippedId}`);
    expect(run.stdout).toContain(`SKIPPED WITHOUT A REASON  CKV_AWS_116 CheckovFixture.template.json AWS::Lambda::Function.${stack.getLogicalId(unexplained)}`);
    expect(run.stdout).not.toContain(`CKV_AWS_116 CheckovFixture.template.json AWS::Lambda::Function.${stack.getLogicalId(skipped)}`);
    const counts = JSON.parse(fs.readFileSync(summary, 'utf8'));
    expect(counts.templates).toEqual({ passed: 0, failed: 1 });
    expect(counts.checks).toMatchObject({ skipped: 1, unexplained: 1 });
  });
});
