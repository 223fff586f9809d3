import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ANONYMIZATION_STAGE_TAG } from '../../../classification';
import { isRegisteredStage, stageIdentityProblems } from '../anonymization-stage';
import { GdprRule, findingsOrCompliant } from '../rule';
import { props, tagsOf } from '../template';

export const AnonymizationStageIdentity: GdprRule = {
  name: 'AnonymizationStageIdentity',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::IAM::Role'],
  info: 'An anonymization stage role (the only reader of raw personal data) can be used by more than its registered runner. Findings: '
    + '`unregistered` (tagged mlsd:anonymization-stage but not registered with markAnonymizationStage / DataLake.registerAnonymizationStage: the tag alone exempts nothing), '
    + '`trust:<principal>` (only lambda.amazonaws.com or sagemaker.amazonaws.com may assume it), `assume:<grantee>` (an identity policy allows sts:AssumeRole on it), '
    + '`passrole:<grantee>` (iam:PassRole on it other than by a registered runner state machine\'s role with an iam:PassedToService condition), '
    + '`runs-as:<resource>` (a function, job or other resource that is not a registered runner uses it), `runner-state:<machine>/<state>` '
    + '(a runner state other than a SageMaker processing job names it). Fix: register the runner, or give the other principal a role of its own.',
  explanation: 'Anonymization before training (GDPR art. 25, 5(1)(c)): the exemption from the raw-zone rule belongs to one identity; whoever can assume, '
    + 'pass or run as that role reads raw personal data by proxy.',
  check: (node) => {
    if (!isRegisteredStage(node)) {
      return tagsOf(props(node))[ANONYMIZATION_STAGE_TAG] === 'true' ? ['unregistered'] : NagRuleCompliance.NOT_APPLICABLE;
    }
    return findingsOrCompliant(stageIdentityProblems(node));
  },
};
