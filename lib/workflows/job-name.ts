import { Token } from 'aws-cdk-lib';
import { statesFormat } from './intrinsic';
import { KitError } from '../errors';

/** SageMaker's limit on training, processing and transform job names. */
export const MAX_JOB_NAME_LENGTH = 63;
/** What {@link executionJobName} appends to the prefix: `-` and 32 hexadecimal digits. */
export const JOB_NAME_SUFFIX_LENGTH = 33;
/** The longest prefix whose job names fit SageMaker's limit. */
export const MAX_JOB_NAME_PREFIX_LENGTH = MAX_JOB_NAME_LENGTH - JOB_NAME_SUFFIX_LENGTH;
/** SageMaker's job name pattern, `[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, without its length. */
const JOB_NAME_PREFIX = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;

/**
 * The intrinsic expression of a SageMaker job name unique to the execution:
 * `<prefix>-<MD5 of the execution's ARN, in hex>`, e.g. `bt-pymk-0cc175b9c0f1b6a831c399e269772661`.
 *
 * Not `<prefix>-<execution name>`: Step Functions allows execution names of 80 characters, with
 * `_`, `.` and other characters SageMaker refuses in a job name, so a run started by hand with such a
 * name failed at the job. The hash is always 32 characters of `[0-9a-f]`; it is the same on a retry
 * of the state (SageMaker then refuses a second job of the name, as before), and the ARN makes it
 * unique in the account and region, where job names must be (execution names are unique per state
 * machine only). The job's execution is in its Step Functions history, which names the job.
 * `pass` names a second set of the same jobs in one execution (`<ARN>/<pass>` is hashed instead).
 */
export function executionJobName(prefix: string, pass?: string): string {
  if (!Token.isUnresolved(prefix) && (!JOB_NAME_PREFIX.test(prefix) || prefix.length > MAX_JOB_NAME_PREFIX_LENGTH)) {
    throw new KitError(`A job name prefix must be 1-${MAX_JOB_NAME_PREFIX_LENGTH} letters, digits and hyphens, starting and ending with a letter or digit `
      + `(SageMaker caps job names, <prefix>-<32-digit hash>, at ${MAX_JOB_NAME_LENGTH} characters), but '${prefix}' was provided`);
  }
  if (pass !== undefined && !/^[a-z0-9-]+$/.test(pass)) {
    throw new KitError(`A job name pass must be lower case letters, digits and hyphens, but '${pass}' was provided`);
  }
  // A second pass of the same jobs in one execution (a rebuild's catch-up) hashes the ARN with its name: names differ, lengths do not.
  const hashed = pass === undefined ? '$$.Execution.Id' : statesFormat(`{}/${pass}`, '$$.Execution.Id');
  return statesFormat(`${prefix}-{}`, `States.Hash(${hashed}, 'MD5')`);
}
