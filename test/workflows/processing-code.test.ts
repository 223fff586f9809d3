import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_s3_assets as assets } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { KitError } from '../../lib/errors';
import { JOB_IO_MODULE, PROCESSING_ROOT, ProcessingCode, ProcessingJobStateProps, processingJobState } from '../../lib/workflows';
import { REPO_ROOT, kitApp } from '../support/app';

const CODE_DIR = `${PROCESSING_ROOT}/code`;
const BUNDLE_COMMAND = (entry: string) => `mkdir -p /tmp/code && tar -xzf "$0" -C /tmp/code && exec python3 /tmp/code/${entry} "$@"`;

/** An entry script that imports job_io the way the real scripts do, prints what it got, and exits 3 on --fail. */
const ECHO_SCRIPT = `import json
import sys

import job_io

print(json.dumps({"argv": sys.argv, "module": job_io.__file__, "magic": job_io.GZIP_MAGIC.hex()}))
sys.exit(3 if "--fail" in sys.argv else 0)
`;

function setup() {
  const app = kitApp();
  const stack = new Stack(app, 'Jobs', { env: { region: 'eu-west-1', account: '123456789012' } });
  return { app, stack };
}

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `content` as `name` in a fresh temporary folder. */
function sourceFile(name: string, content: string): string {
  const file = path.join(tempDir('processing-code-src-'), name);
  fs.writeFileSync(file, content);
  return file;
}

/** The file the asset stages into the cloud assembly: what `cdk deploy` uploads. */
function staged(app: App, asset: assets.Asset): string {
  return path.join(app.outdir, asset.assetPath);
}

/** Extracts a tar.gz with the system tar, as the container's entrypoint does. */
function extract(archive: string): string {
  const out = tempDir('processing-code-out-');
  execFileSync('tar', ['-xzf', archive, '-C', out]);
  return out;
}

describe('ProcessingCode.fromScript', () => {
  test('is a file asset of the script, run with python3 from its local path', () => {
    const { app, stack } = setup();
    const script = sourceFile('evaluate.py', 'print("hi")\n');
    const code = ProcessingCode.fromScript(stack, 'Script', script);
    expect(code.asset.isFile).toBe(true);
    expect(code.asset.s3ObjectKey).toMatch(/^[0-9a-f]{64}\.py$/);
    expect(fs.readFileSync(staged(app, code.asset), 'utf8')).toBe('print("hi")\n');
    expect(code.entrypoint(CODE_DIR)).toEqual(['python3', `${CODE_DIR}/${code.asset.s3ObjectKey}`]);
  });
});

describe('ProcessingCode.fromBundle', () => {
  test('the bundle holds exactly the entry script and the modules, under their base names, byte for byte', () => {
    const { app, stack } = setup();
    const entry = sourceFile('echo_args.py', ECHO_SCRIPT);
    const code = ProcessingCode.fromBundle(stack, 'Bundle', entry, [JOB_IO_MODULE]);
    expect(code.asset.isFile).toBe(true);
    const bundle = staged(app, code.asset);
    expect(execFileSync('tar', ['-tzf', bundle]).toString().split('\n').filter(Boolean)).toEqual(['echo_args.py', 'job_io.py']);
    const out = extract(bundle);
    expect(fs.readdirSync(out).sort()).toEqual(['echo_args.py', 'job_io.py']);
    expect(fs.readFileSync(path.join(out, 'echo_args.py'), 'utf8')).toBe(ECHO_SCRIPT);
    expect(fs.readFileSync(path.join(out, 'job_io.py')).equals(fs.readFileSync(JOB_IO_MODULE))).toBe(true);
  });

  test('the entrypoint unpacks the bundle downloaded into the code folder and runs the entry script with the arguments', () => {
    const { stack } = setup();
    const code = ProcessingCode.fromBundle(stack, 'Bundle', sourceFile('echo_args.py', ECHO_SCRIPT), [JOB_IO_MODULE]);
    expect(code.asset.s3ObjectKey).toMatch(/^[0-9a-f]{64}\.gz$/);
    expect(code.entrypoint(CODE_DIR)).toEqual(['sh', '-c', BUNDLE_COMMAND('echo_args.py'), `${CODE_DIR}/${code.asset.s3ObjectKey}`]);
  });

  test('the shared module is where JOB_IO_MODULE says, and the same sources make the same asset', () => {
    expect(fs.readFileSync(JOB_IO_MODULE, 'utf8')).toMatch(/^def classify_client_error\(/m);
    const { stack } = setup();
    const entry = sourceFile('echo_args.py', ECHO_SCRIPT);
    const first = ProcessingCode.fromBundle(stack, 'A', entry, [JOB_IO_MODULE]);
    const second = ProcessingCode.fromBundle(stack, 'B', entry, [JOB_IO_MODULE]);
    const changed = ProcessingCode.fromBundle(stack, 'C', sourceFile('echo_args.py', `${ECHO_SCRIPT}# changed\n`), [JOB_IO_MODULE]);
    expect(first.asset.assetHash).toBe(second.asset.assetHash);
    expect(changed.asset.assetHash).not.toBe(first.asset.assetHash);
  });

  test.each<[string, () => [string, string[]], RegExp]>([
    ['two files with one base name', () => [sourceFile('job_io.py', 'x = 1\n'), [JOB_IO_MODULE]], /each file needs its own base name, but 'job_io.py' was provided twice/],
    ['a name the shell would split', () => [sourceFile('my entry.py', ''), [JOB_IO_MODULE]], /file names may hold letters, digits, '_', '.' and '-' only, but 'my entry.py'/],
    ['a name the shell would expand', () => [sourceFile('x.py', ''), [sourceFile('$(id).py', '')]], /but '\$\(id\)\.py' was provided/],
    ['a missing module', () => [sourceFile('x.py', ''), [path.join(REPO_ROOT, 'lib', 'python', 'missing.py')]], /'.*missing\.py' is not a file/],
    ['a folder', () => [sourceFile('x.py', ''), [path.join(REPO_ROOT, 'lib', 'python')]], /'.*python' is not a file/],
  ])('refuses %s', (_name, files, message) => {
    const { stack } = setup();
    const [entry, modules] = files();
    expect(() => ProcessingCode.fromBundle(stack, 'Bundle', entry, modules)).toThrow(KitError);
    expect(() => ProcessingCode.fromBundle(stack, 'Bundle2', entry, modules)).toThrow(message);
  });
});

describe('the bundle entrypoint, run by a real shell', () => {
  /** A PATH whose python3 is the project's .venv if there is one (the container's python3 has boto3). */
  function pythonEnv(): NodeJS.ProcessEnv {
    const venv = path.join(REPO_ROOT, '.venv', 'bin');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: fs.existsSync(venv) ? `${venv}${path.delimiter}${process.env.PATH}` : process.env.PATH,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    if (spawnSync('python3', ['-c', 'import botocore.exceptions'], { env }).status !== 0) {
      // No botocore outside the container (a fresh clone before .venv exists): job_io needs only
      // these exception classes to import, so a stand-in lets the shell mechanics be tested.
      const stub = path.join(tempDir('processing-code-botocore-'), 'botocore');
      fs.mkdirSync(stub);
      fs.writeFileSync(path.join(stub, '__init__.py'), '');
      fs.writeFileSync(path.join(stub, 'exceptions.py'), ['ClientError', 'ConnectionClosedError', 'ConnectTimeoutError', 'EndpointConnectionError', 'ReadTimeoutError']
        .map((name) => `class ${name}(Exception):\n    pass\n`).join('\n'));
      env.PYTHONPATH = path.dirname(stub);
    }
    return env;
  }

  const hadCodeDir = fs.existsSync('/tmp/code');
  afterAll(() => {
    if (!hadCodeDir) {
      fs.rmSync('/tmp/code', { recursive: true, force: true });
    }
  });

  test('unpacks into /tmp/code, imports job_io from beside the entry, passes every argument through and keeps the exit status', () => {
    const { app, stack } = setup();
    const code = ProcessingCode.fromBundle(stack, 'Bundle', sourceFile('echo_args.py', ECHO_SCRIPT), [JOB_IO_MODULE]);
    // The container runs ContainerEntrypoint + ContainerArguments as one argv, without a shell of its
    // own; only the bundle's path differs here, the command is the one the job runs.
    const [shell, flag, command, containerPath] = code.entrypoint(CODE_DIR);
    expect(containerPath).toBe(`${CODE_DIR}/${code.asset.s3ObjectKey}`);
    const args = ['a', 'b c', '$HOME', '', '--input', '/opt/ml/processing/input', '"quoted"'];
    const env = pythonEnv();

    const ok = spawnSync(shell, [flag, command, staged(app, code.asset), ...args], { env, encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ argv: ['/tmp/code/echo_args.py', ...args], module: '/tmp/code/job_io.py', magic: '1f8b' });

    const failed = spawnSync(shell, [flag, command, staged(app, code.asset), 'a', '--fail'], { env, encoding: 'utf8' });
    expect(failed.status).toBe(3);
    expect(JSON.parse(failed.stdout).argv).toEqual(['/tmp/code/echo_args.py', 'a', '--fail']);
  });

  test('a bundle that cannot be unpacked fails before python runs', () => {
    const { stack } = setup();
    const [shell, flag, command] = ProcessingCode.fromBundle(stack, 'Bundle', sourceFile('echo_args.py', ECHO_SCRIPT), [JOB_IO_MODULE]).entrypoint(CODE_DIR);
    const broken = sourceFile('broken.gz', 'not a tarball');
    const result = spawnSync(shell, [flag, command, broken, 'a'], { env: pythonEnv(), encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
  });
});

describe('processingJobState', () => {
  function job(stack: Stack, code: ProcessingCode, change: Partial<ProcessingJobStateProps> = {}) {
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const state = processingJobState(stack, 'Job', {
      jobNamePrefix: 'job',
      role,
      image: { uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/image:1', repositoryArn: 'arn:aws:ecr:eu-west-1:123456789012:repository/image' },
      code,
      arguments: ['--input', `${PROCESSING_ROOT}/input`],
      inputs: [{ name: 'input', s3Uri: 's3://data/input/' }],
      encryptionKey: new kms.Key(stack, 'Key'),
      subnets: vpc.selectSubnets(),
      securityGroup: new ec2.SecurityGroup(stack, 'SecurityGroup', { vpc }),
      instanceType: 'ml.m5.large',
      volumeSizeGiB: 30,
      maxRuntime: Duration.hours(1),
      networkIsolation: false,
      ...change,
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return stack.resolve(state.toStateJson()) as any;
  }

  test.each([
    ['fromScript', (stack: Stack) => ProcessingCode.fromScript(stack, 'Code', sourceFile('evaluate.py', 'pass\n')), /^[0-9a-f]{64}\.py$/],
    ['fromBundle', (stack: Stack) => ProcessingCode.fromBundle(stack, 'Code', sourceFile('echo_args.py', ECHO_SCRIPT), [JOB_IO_MODULE]), /^[0-9a-f]{64}\.gz$/],
  ] as const)('%s: downloads the code object, runs its entrypoint, and lets the role read exactly that object', (_name, make, key) => {
    const { stack } = setup();
    const code = make(stack);
    expect(code.asset.s3ObjectKey).toMatch(key);
    const parameters = job(stack, code).Parameters;
    expect(parameters.AppSpecification.ContainerEntrypoint).toEqual(code.entrypoint(CODE_DIR));
    expect(parameters.ProcessingInputs[0]).toEqual({
      InputName: 'code',
      S3Input: { S3Uri: stack.resolve(code.asset.s3ObjectUrl), LocalPath: CODE_DIR, S3DataType: 'S3Prefix', S3InputMode: 'File' },
    });
    const statements = Template.fromStack(stack).findResources('AWS::IAM::Policy');
    const reads = Object.values(statements).flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => statement.Action === 's3:GetObject');
    expect(reads).toEqual([{ Action: 's3:GetObject', Effect: 'Allow', Resource: stack.resolve(code.asset.bucket.arnForObjects(code.asset.s3ObjectKey)) }]);
  });

  test('one instance and no distribution by default; several instances share a sharded input, the code goes to each', () => {
    const { stack } = setup();
    const code = ProcessingCode.fromScript(stack, 'Code', sourceFile('evaluate.py', 'pass\n'));
    const single = job(stack, code).Parameters;
    expect(single.ProcessingResources.ClusterConfig.InstanceCount).toBe(1);
    expect(single.ProcessingInputs.map((i: { S3Input: object }) => 'S3DataDistributionType' in i.S3Input)).toEqual([false, false]);
    const other = new Stack(new App(), 'Other');
    const sharded = job(other, ProcessingCode.fromScript(other, 'Code', sourceFile('evaluate.py', 'pass\n')), {
      instanceCount: 8, inputs: [{ name: 'input', s3Uri: 's3://data/input/', sharded: true }],
    }).Parameters;
    expect(sharded.ProcessingResources.ClusterConfig.InstanceCount).toBe(8);
    expect(sharded.ProcessingInputs.map((i: { InputName: string; S3Input: { S3DataDistributionType: string } }) => [i.InputName, i.S3Input.S3DataDistributionType]))
      .toEqual([['code', 'FullyReplicated'], ['input', 'ShardedByS3Key']]);
  });

  test('fromScript keeps the entrypoint of a plain script', () => {
    const { stack } = setup();
    const code = ProcessingCode.fromScript(stack, 'Code', sourceFile('evaluate.py', 'pass\n'));
    expect(job(stack, code).Parameters.AppSpecification.ContainerEntrypoint).toEqual(['python3', `/opt/ml/processing/code/${code.asset.s3ObjectKey}`]);
  });
});
