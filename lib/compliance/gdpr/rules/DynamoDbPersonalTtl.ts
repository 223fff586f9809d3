import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { holdsPersonalData } from '../classified';
import { GdprRule, verdict } from '../rule';
import { isTrue, props } from '../template';

export const DynamoDbPersonalTtl: GdprRule = {
  name: 'DynamoDbPersonalTtl',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'],
  info: 'A table classified as personal data has no time to live: its items are kept until someone deletes them. Fix: `timeToLiveAttribute` on the Table '
    + '(TableV2: `timeToLiveAttribute`), with every writer setting the attribute to at most the retention (tag mlsd:retention-days) ahead.',
  explanation: 'Storage limitation (GDPR art. 5(1)(e)): personal data is kept no longer than its purpose needs; without a TTL a table keeps every item forever.',
  check: (node) => {
    if (!holdsPersonalData(node)) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return verdict(isTrue(props(node).TimeToLiveSpecification?.Enabled) && typeof props(node).TimeToLiveSpecification?.AttributeName === 'string');
  },
};
