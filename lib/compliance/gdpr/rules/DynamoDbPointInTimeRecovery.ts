import { NagMessageLevel } from 'cdk-nag';
import { failingReplicas } from '../dynamodb-replicas';
import { GdprRule, verdict, findingsOrCompliant } from '../rule';
import { Json, isTrue, props, rendered } from '../template';

function pitrEnabled(holder: Json): boolean {
  return isTrue(holder?.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled);
}

export const DynamoDbPointInTimeRecovery: GdprRule = {
  name: 'DynamoDbPointInTimeRecovery',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'],
  info: 'Point-in-time recovery is off (on a global table, [replica:<region>] names the replica where it is off). Fix: set `pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true }` on the Table or TableV2 (TableV2 applies it to every replica unless a replica overrides it).',
  explanation: 'GDPR art. 32(1)(c) asks for the ability to restore the availability of and access to personal data in a timely manner after an incident; continuous backups bounded to at most 35 days also keep erased data (art. 17) from surviving in backups beyond that window.',
  check: (node) => {
    if (rendered(node).type === 'AWS::DynamoDB::Table') {
      return verdict(pitrEnabled(props(node)));
    }
    const findings = failingReplicas(node, pitrEnabled);
    return findingsOrCompliant(findings);
  },
};
