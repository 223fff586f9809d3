/**
 * Impressions and outcomes into the lake's raw zone through Firehose. This is the only place raw
 * request values leave the function: the raw zone is the lake's personal-data zone, and its
 * anonymization stage pseudonymizes them with the same key. They never reach stdout.
 */
import { PutRecordBatchCommand, PutRecordCommand } from '@aws-sdk/client-firehose';
import type { LogConfig } from './contract';
import type { ServingDeps } from './deps';
import { toJson } from './json';
import { withTimeout } from './timeout';
import type { RequestValues } from './types';

// PutRecordBatch takes at most 500 records (and 4 MiB; lines here are far below 8 KiB each).
const FIREHOSE_BATCH = 500;

export class LakeLogError extends Error {
  override readonly name = 'LakeLogError';
}

export interface ServedItem {
  readonly id: string;
  readonly score?: number;
  /** An `act` stage's decision, logged when the log config says so. */
  readonly action?: string;
}

/** One JSON line per served item; `position` is the 0-based index in the response. */
export function impressionLines(
  log: LogConfig,
  requestId: string,
  servedAt: string,
  raw: RequestValues,
  variant: string | null,
  items: readonly ServedItem[],
  degraded: readonly string[],
): string[] {
  const requestFields: Record<string, unknown> = {};
  for (const field of log.requestFields) if (Object.hasOwn(raw, field)) requestFields[field] = raw[field];
  const degradedText = degraded.join('|');
  return items.map(
    (item, position) =>
      // toJson: an identifier beyond 2^53 keeps its digits, so the anonymizer's pseudonym matches ours.
      `${toJson({
        request_id: requestId,
        served_at: servedAt,
        ...requestFields,
        variant,
        item_id: item.id,
        position,
        score: item.score ?? null,
        ...(log.actions ? { action: item.action ?? null } : {}),
        degraded: degradedText,
      })}\n`,
  );
}

/** Puts the lines; throws on any failure or when `timeoutMs` passes. */
export async function putImpressions(deps: ServingDeps, stream: string, lines: readonly string[], timeoutMs: number): Promise<void> {
  if (lines.length === 0) return;
  await withTimeout(timeoutMs, async (signal) => {
    const batches: Promise<void>[] = [];
    for (let start = 0; start < lines.length; start += FIREHOSE_BATCH) {
      const records = lines.slice(start, start + FIREHOSE_BATCH).map((line) => ({ Data: Buffer.from(line, 'utf8') }));
      batches.push(
        (async () => {
          const response = await deps.firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: stream, Records: records }), {
            abortSignal: signal,
          });
          if ((response.FailedPutCount ?? 0) > 0) throw new LakeLogError('some impressions were not accepted');
        })(),
      );
    }
    await Promise.all(batches);
  });
}

export interface OutcomeRecord {
  readonly request_id: string;
  readonly item_id: string;
  readonly outcome: string;
  readonly value: number | bigint | boolean;
  readonly received_at: string;
  readonly variant: string | null;
}

/** One PutRecord: the outcome is either recorded whole or not at all (the caller retries on 503). */
export async function putOutcome(
  deps: ServingDeps,
  stream: string,
  record: OutcomeRecord,
  subjectField: string,
  rawSubject: unknown,
  timeoutMs: number,
): Promise<void> {
  const line = `${toJson({ ...record, [subjectField]: rawSubject })}\n`;
  await withTimeout(timeoutMs, (signal) =>
    deps.firehose.send(new PutRecordCommand({ DeliveryStreamName: stream, Record: { Data: Buffer.from(line, 'utf8') } }), {
      abortSignal: signal,
    }),
  );
}
