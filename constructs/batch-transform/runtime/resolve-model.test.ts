/**
 * The run's model against a real moto server (model package groups, approvals, ListModelPackages,
 * Create/DescribeModel), every SageMaker request also checked against botocore's service model.
 */
import {
  CreateModelInput, CreateModelPackageCommand, CreateModelPackageGroupCommand, DescribeModelCommand, SageMakerClient, UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { RESOLVE_MODEL_ENV, ResolveModelSettings, readResolveModelSettings, resolveTransformModel, transformModelName } from './resolve-model';
import { MotoServer, startMotoServer } from '../../release/runtime/testing/moto-server';
import { serviceModelProblems } from '../../release/runtime/testing/service-model';

const GROUP = 'svb-detector';
const SETTINGS: ResolveModelSettings = {
  modelPackageGroupName: GROUP,
  templateModelName: 'DetectorModel-AbC123',
  modelNameBase: 'bt-svb-blurring',
  placement: {
    executionRoleArn: 'arn:aws:iam::123456789012:role/detector-model',
    subnetIds: ['subnet-0a1b2c3d4e5f60718'],
    securityGroupIds: ['sg-0123456789abcdef0'],
    enableNetworkIsolation: true,
    environment: {},
  },
};

let moto: MotoServer;
let admin: SageMakerClient;
const packages: string[] = [];

/** A client on moto whose every request is checked against the service model. */
function checkedClient(problems: string[], creates: CreateModelInput[] = []): SageMakerClient {
  const client = new SageMakerClient(moto.clientConfig);
  client.middlewareStack.add((next, context) => async (args) => {
    const operation = (context.commandName as string).replace(/Command$/, '');
    problems.push(...serviceModelProblems('sagemaker', operation, args.input));
    if (operation === 'CreateModel') creates.push(args.input as CreateModelInput);
    return next(args);
  }, { step: 'initialize', name: 'serviceModelCheck' });
  return client;
}

async function register(approval: 'Approved' | 'PendingManualApproval'): Promise<string> {
  const created = await admin.send(new CreateModelPackageCommand({
    ModelPackageGroupName: GROUP,
    ModelApprovalStatus: 'PendingManualApproval',
    InferenceSpecification: {
      Containers: [{ Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/detector:latest', ModelDataUrl: 's3://artifacts/detector/model.tar.gz' }],
      SupportedContentTypes: ['application/jsonlines'],
      SupportedResponseMIMETypes: ['application/jsonlines'],
    },
  }));
  const arn = created.ModelPackageArn as string;
  packages.push(arn);
  if (approval === 'Approved') await admin.send(new UpdateModelPackageCommand({ ModelPackageArn: arn, ModelApprovalStatus: 'Approved' }));
  return arn;
}

beforeAll(async () => {
  moto = await startMotoServer();
  admin = new SageMakerClient(moto.clientConfig);
  await admin.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: GROUP }));
}, 90_000);

afterAll(async () => {
  admin?.destroy();
  await moto?.stop();
});

describe('the model a batch transform run uses (moto)', () => {
  const problems: string[] = [];
  afterEach(() => expect(problems.splice(0)).toEqual([]));

  test('nothing approved yet (a version waits for approval): the template\'s model, nothing created', async () => {
    await register('PendingManualApproval');
    await expect(resolveTransformModel(SETTINGS, checkedClient(problems))).resolves.toEqual({
      modelName: 'DetectorModel-AbC123', source: 'template', modelPackageArn: null, modelPackageVersion: null, model: null,
    });
  });

  test('an approval is all it takes: the next run creates the version\'s model once, placed as the template\'s', async () => {
    const arn = await register('Approved');
    const creates: CreateModelInput[] = [];
    const first = await resolveTransformModel(SETTINGS, checkedClient(problems, creates));
    expect(first).toEqual({ modelName: 'bt-svb-blurring-v2', source: 'approved', modelPackageArn: arn, modelPackageVersion: 2, model: 'created' });
    const model = await admin.send(new DescribeModelCommand({ ModelName: 'bt-svb-blurring-v2' }));
    expect(model.PrimaryContainer?.ModelPackageName).toBe(arn);
    expect([model.ExecutionRoleArn, model.VpcConfig?.Subnets]).toEqual([SETTINGS.placement.executionRoleArn, SETTINGS.placement.subnetIds]);
    // moto does not keep the isolation flag; the request carried it.
    expect(creates).toEqual([expect.objectContaining({ ModelName: 'bt-svb-blurring-v2', EnableNetworkIsolation: true, VpcConfig: { Subnets: SETTINGS.placement.subnetIds, SecurityGroupIds: SETTINGS.placement.securityGroupIds } })]);
    // The next run (or a retried one) finds it.
    await expect(resolveTransformModel(SETTINGS, checkedClient(problems))).resolves.toMatchObject({ modelName: 'bt-svb-blurring-v2', model: 'existed' });
  });

  test('a newer approval wins; withdrawing it sends the next run back to the newest version still approved', async () => {
    const newer = await register('Approved');
    await expect(resolveTransformModel(SETTINGS, checkedClient(problems))).resolves.toMatchObject({ modelName: 'bt-svb-blurring-v3', modelPackageArn: newer });
    await admin.send(new UpdateModelPackageCommand({ ModelPackageArn: newer, ModelApprovalStatus: 'Rejected' }));
    await expect(resolveTransformModel(SETTINGS, checkedClient(problems))).resolves.toMatchObject({ modelName: 'bt-svb-blurring-v2', modelPackageVersion: 2, model: 'existed' });
  });
});

describe('names and settings', () => {
  test('model names stay SageMaker names at the longest base', () => {
    const base = `bt-${'a'.repeat(60)}`;
    expect(transformModelName('bt-svb-blurring', 12)).toBe('bt-svb-blurring-v12');
    expect(transformModelName(base, 999_999_999).length).toBeLessThanOrEqual(63);
    expect(() => transformModelName('bt-x', 0)).toThrow('model package version must be a whole number from 1, but 0 was provided');
  });

  test('reads its settings, and lists every problem of bad ones', () => {
    expect(readResolveModelSettings({ [RESOLVE_MODEL_ENV]: JSON.stringify(SETTINGS) })).toEqual(SETTINGS);
    expect(() => readResolveModelSettings({})).toThrow(`${RESOLVE_MODEL_ENV} must be JSON with modelPackageGroupName, templateModelName, modelNameBase and placement`);
    expect(() => readResolveModelSettings({ [RESOLVE_MODEL_ENV]: JSON.stringify({ ...SETTINGS, modelPackageGroupName: 'a_b', placement: { executionRoleArn: 'r' } }) })).toThrow(
      `${RESOLVE_MODEL_ENV} is invalid: modelPackageGroupName must be a SageMaker name (1-63 letters, digits and hyphens); placement must have executionRoleArn, subnetIds, securityGroupIds and enableNetworkIsolation`);
  });
});
