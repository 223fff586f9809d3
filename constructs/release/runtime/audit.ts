/**
 * Writing the audit trail: every decision and deployment event becomes one decision record and one
 * log line. Records are written after the state they describe, so a record never claims what the
 * state does not hold; a record that cannot be written is logged whole instead of being dropped.
 */
import type { JsonValue } from './dynamo-json';
import { describeError } from './errors';
import type { LogLevel, Logger } from './log';
import type { ReleaseEvent } from './release-event';
import type { DecisionRecordInput, ReleaseStore } from './release-state';

/** A typed record as plain JSON (what DynamoDB and the log line hold). */
export function asJson(value: object): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/** Writes one record and its log line. */
export async function audit(store: ReleaseStore, log: Logger, endpointName: string, at: Date, level: LogLevel, message: string, input: DecisionRecordInput, fields: Readonly<Record<string, unknown>>): Promise<void> {
  log(level, message, { endpointName, action: input.action, applied: input.applied, note: input.note, ...fields });
  try {
    await store.recordDecision(endpointName, at, input);
  } catch (error) {
    log('ERROR', 'decision record not written', { endpointName, action: input.action, record: input.record, ...describeError(error) });
  }
}

/** Records deployment events (after the state that holds them was written). */
export async function auditEvents(store: ReleaseStore, log: Logger, endpointName: string, at: Date, events: readonly ReleaseEvent[]): Promise<void> {
  for (const event of events) {
    const level: LogLevel = event.action === 'deployment-failed' ? 'ERROR' : event.action === 'deployment-rolled-back' ? 'WARN' : 'INFO';
    await audit(store, log, endpointName, at, level, 'release event', { action: event.action, record: asJson(event), applied: true, note: null }, {
      reason: event.reason, role: event.role, modelName: event.model.modelName, variantName: event.model.variantName, endpointConfigName: event.endpointConfigName,
    });
  }
}
