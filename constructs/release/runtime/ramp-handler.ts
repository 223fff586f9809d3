/**
 * Lambda entry point of the A/B ramp controller, run on a schedule (e.g. hourly). It must not run
 * twice at once (reserved concurrency 1); the state's conditional writes catch a race regardless.
 * A failed run throws: the next scheduled run completes the work (see ramp.ts).
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { RampSettings, readRampSettings } from './contract';
import { describeError } from './errors';
import { jsonLogger } from './log';
import { RampDeps, RampRunOutcome, runRamp } from './ramp';
import { DynamoReleaseStore } from './release-state';

let cached: { settings: RampSettings; deps: RampDeps } | undefined;

/** Settings and clients, made on the first invocation and kept for the container's life. */
function context(): { settings: RampSettings; deps: RampDeps } {
  if (cached === undefined) {
    const settings = readRampSettings(process.env);
    cached = {
      settings,
      deps: {
        sagemaker: new SageMakerClient({}),
        athena: new AthenaClient({}),
        cloudwatch: new CloudWatchClient({}),
        store: new DynamoReleaseStore(new DynamoDBClient({}), settings.store),
        now: () => new Date(),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        log: jsonLogger,
      },
    };
  }
  return cached;
}

/** Runs one look; the scheduled event carries nothing the controller reads. */
export async function handler(): Promise<RampRunOutcome> {
  const { settings, deps } = context();
  try {
    return await runRamp(settings, deps);
  } catch (error) {
    deps.log('ERROR', 'ramp run failed', { endpointName: settings.endpoint.endpointName, ...describeError(error) });
    throw error;
  }
}
