import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One acknowledged finding. */
export interface AcknowledgmentRecord {
  readonly ruleId: string;
  readonly constructPath: string;
  readonly reason: string;
}

/** Every acknowledgment recorded under `scope`, in tree order. */
export function listAcknowledgments(scope: IConstruct): AcknowledgmentRecord[] {
  return scope.node.findAll().flatMap((construct) => construct.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && entry.data)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
      // aws-cdk-lib records ids with an `Annotation::` kind prefix.
      ruleId: id.replace(/^[A-Za-z]+::/, ''),
      constructPath: construct.node.path,
      reason,
    }))));
}
