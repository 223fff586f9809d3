import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { aws_s3_assets as assets } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PROCESSING_ROOT, PY_FILES_INPUT, assetLocalPath } from './processing-job';
import { writeFileAtomically } from '../assets/atomic-write';
import { TarballEntry, tarGzAsset } from '../assets/tarball';
import { KitError } from '../errors';

/** The Python module of job I/O helpers (input files, gzip lines, retries) shared by processing scripts. */
export const JOB_IO_MODULE = path.join(__dirname, '..', 'python', 'job_io.py');

/**
 * The Python modules every training job's source directory carries beside its entry point: the
 * SageMaker training contract, request/response handling of inference handlers, offline metrics, and
 * the numpy building blocks (layers' activations, losses with gradients, Adam, checkpoints) of the blueprints' models.
 */
export const TRAINING_SUPPORT_MODULES: readonly string[] = ['training_io.py', 'serving_io.py', 'ml_metrics.py', 'numpy_nn.py']
  .map((name) => path.join(__dirname, '..', 'python', name));

/** Where a bundle is unpacked in the container; the entry script finds its modules beside itself there. */
const BUNDLE_DIR = '/tmp/code';

/**
 * A file name that may stand in a tar entry and, unquoted, in the `sh -c` command: a Python
 * module's name must be an identifier anyway. tarGz caps it at 100 bytes, which keeps the command
 * well under SageMaker's 256 characters per entrypoint item.
 */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * The code of a SageMaker Processing job, as one S3 asset, and the container entrypoint that runs
 * it once {@link processingJobState} has downloaded the asset into a directory.
 *
 * - {@link ProcessingCode.fromScript}: a single Python file, run with `python3 <file>`.
 * - {@link ProcessingCode.fromBundle}: an entry script and the modules it imports, shipped as a
 *   deterministic tar.gz that the entrypoint unpacks before running the entry script. Needed
 *   because a file asset keeps its hashed key as its name, so a second file asset could not be
 *   imported by its module name.
 */
export class ProcessingCode {
  /** A single Python script as a file asset; the entrypoint is `python3 <local path>`. */
  public static fromScript(scope: Construct, id: string, file: string): ProcessingCode {
    const asset = new assets.Asset(scope, id, { path: file });
    return new ProcessingCode(asset, (dir) => ['python3', assetLocalPath(dir, asset)]);
  }

  /**
   * `entryFile` and each of `sharedModules` in a tar.gz, each under its own base name, so that the
   * entry script imports a module by name (`import job_io`). The entrypoint unpacks the bundle
   * into /tmp/code and runs the entry script there; the container arguments reach it unchanged
   * (`sh -c '<command>' <bundle> <arguments...>`: `$0` is the bundle, `"$@"` the arguments) and its
   * exit status is the job's.
   */
  public static fromBundle(scope: Construct, id: string, entryFile: string, sharedModules: readonly string[]): ProcessingCode {
    const files = [entryFile, ...sharedModules];
    const names = files.map((file) => path.basename(file));
    const bad = names.find((name) => !SAFE_NAME.test(name));
    if (bad !== undefined) {
      throw new KitError(`ProcessingCode.fromBundle: file names may hold letters, digits, '_', '.' and '-' only, but '${bad}' was provided`);
    }
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) {
      throw new KitError(`ProcessingCode.fromBundle: each file needs its own base name, but '${twice}' was provided twice`);
    }
    const entries: TarballEntry[] = files.map((file, i) => {
      if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        throw new KitError(`ProcessingCode.fromBundle: '${file}' is not a file`);
      }
      return { path: names[i], content: fs.readFileSync(file) };
    });
    const asset = tarGzAsset(scope, id, 'code.tar.gz', entries);
    const command = `mkdir -p ${BUNDLE_DIR} && tar -xzf "$0" -C ${BUNDLE_DIR} && exec python3 ${BUNDLE_DIR}/${names[0]} "$@"`;
    return new ProcessingCode(asset, (dir) => ['sh', '-c', command, assetLocalPath(dir, asset)]);
  }

  /**
   * A PySpark entry script for SageMaker's Spark processing container, and the modules it imports.
   * The entrypoint is `smspark-submit --py-files <modules>.zip <script>`: smspark starts Spark on
   * every instance of the job and runs the script on the primary; `--py-files` puts the modules on
   * the driver's and every executor's Python path (as a zip, which keeps their names, where a file
   * asset would be named by its hash). Functions the script defines travel to executors by value.
   */
  public static fromSparkScript(scope: Construct, id: string, entryFile: string, sharedModules: readonly string[]): ProcessingCode {
    const asset = new assets.Asset(scope, id, { path: entryFile });
    const names = sharedModules.map((file) => path.basename(file));
    if (names.some((name, i) => names.indexOf(name) !== i || !SAFE_NAME.test(name))) {
      throw new KitError(`ProcessingCode.fromSparkScript: modules need distinct safe base names, but ${names.join(', ')} were provided`);
    }
    // A folder of copies, named by content, that CDK zips as a directory asset.
    const contents = sharedModules.map((file) => fs.readFileSync(file));
    const digest = crypto.createHash('sha256');
    names.forEach((name, i) => digest.update(name).update(contents[i]));
    const dir = path.join(os.tmpdir(), 'mlsd-generated', `py-files-${digest.digest('hex').slice(0, 16)}`);
    fs.mkdirSync(dir, { recursive: true });
    names.forEach((name, i) => writeFileAtomically(path.join(dir, name), contents[i]));
    const pyFiles = new assets.Asset(scope, `${id}Modules`, { path: dir });
    return new ProcessingCode(asset, (dir2) => ['smspark-submit', '--py-files', assetLocalPath(`${PROCESSING_ROOT}/${PY_FILES_INPUT}`, pyFiles), assetLocalPath(dir2, asset)], pyFiles);
  }

  private constructor(
    /** The S3 object the job downloads; its role may read exactly this object. */
    public readonly asset: assets.Asset,
    private readonly entrypointFor: (dir: string) => string[],
    /** Modules a Spark script imports, zipped; downloaded as the input {@link PY_FILES_INPUT}. */
    public readonly pyFiles?: assets.Asset,
  ) {}

  /** The container entrypoint, for the asset downloaded into `dir`; the container arguments follow it. */
  public entrypoint(dir: string): string[] {
    return this.entrypointFor(dir);
  }
}
