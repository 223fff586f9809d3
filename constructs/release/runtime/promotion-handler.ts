/**
 * Lambda entry point of the promotion: EventBridge "SageMaker Model Package State Change" events
 * of one model package group, delivered directly or through an SQS queue. A queue is the better
 * wiring: an endpoint update takes minutes to hours, during which an approval is retried
 * (RetryableError), and Lambda's own asynchronous retries stop after two attempts within minutes,
 * while a queue redelivers for as long as its retention and maxReceiveCount allow, then parks the
 * event in a dead-letter queue. With a queue, failed records are reported as batch item failures
 * (the event source mapping must enable ReportBatchItemFailures).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PromotionSettings, readPromotionSettings } from './contract';
import { describeError, isRetryable } from './errors';
import { Logger, jsonLogger } from './log';
import { PromotionDeps, PromotionOutcome, parseModelPackageEvent, promote } from './promotion';
import { DynamoReleaseStore } from './release-state';

let cached: { settings: PromotionSettings; deps: PromotionDeps } | undefined;

/** Settings and clients, made on the first invocation and kept for the container's life. */
function context(): { settings: PromotionSettings; deps: PromotionDeps } {
  if (cached === undefined) {
    const settings = readPromotionSettings(process.env);
    cached = {
      settings,
      deps: {
        sagemaker: new SageMakerClient({}),
        store: new DynamoReleaseStore(new DynamoDBClient({}), settings.store),
        now: () => new Date(),
        log: jsonLogger,
      },
    };
  }
  return cached;
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return Array.isArray((event as SQSEvent | null)?.Records);
}

/** Handles one event or a batch of queued events; see the file comment. */
export async function handler(event: EventBridgeEvent<string, unknown> | SQSEvent): Promise<PromotionOutcome | SQSBatchResponse> {
  const { settings, deps } = context();
  return handleEvent(event, settings, deps);
}

/** The handler with its settings and clients injected (tests). */
export async function handleEvent(event: EventBridgeEvent<string, unknown> | SQSEvent, settings: PromotionSettings, deps: PromotionDeps): Promise<PromotionOutcome | SQSBatchResponse> {
  if (!isSqsEvent(event)) return handleOne(event, settings, deps, deps.log);
  const batchItemFailures: { itemIdentifier: string }[] = [];
  // One at a time: the records are approvals of one group, and each may update the endpoint.
  for (const record of event.Records) {
    try {
      await handleOne(JSON.parse(record.body) as unknown, settings, deps, deps.log);
    } catch {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}

async function handleOne(event: unknown, settings: PromotionSettings, deps: PromotionDeps, log: Logger): Promise<PromotionOutcome> {
  try {
    return await promote(parseModelPackageEvent(event), settings, deps);
  } catch (error) {
    const retryable = isRetryable(error);
    log(retryable ? 'WARN' : 'ERROR', 'model package event not handled', { endpointName: settings.endpoint.endpointName, retryable, ...describeError(error) });
    throw error;
  }
}
