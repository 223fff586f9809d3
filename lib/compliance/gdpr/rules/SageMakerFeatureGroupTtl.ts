import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { onlineStoreEnabled } from '../feature-store';
import { isObject } from '../json';
import { GdprRule, verdict } from '../rule';
import { Json, props } from '../template';

const TTL_UNITS = ['Seconds', 'Minutes', 'Hours', 'Days', 'Weeks'];

/** A TtlDuration with a known unit and a positive whole value. */
function isTtl(value: Json): boolean {
  if (!isObject(value) || !TTL_UNITS.includes(value.Unit)) {
    return false;
  }
  const amount = typeof value.Value === 'number' || typeof value.Value === 'string' ? Number(value.Value) : NaN;
  return Number.isInteger(amount) && amount > 0;
}

export const SageMakerFeatureGroupTtl: GdprRule = {
  name: 'SageMakerFeatureGroupTtl',
  level: NagMessageLevel.WARN,
  resourceTypes: ['AWS::SageMaker::FeatureGroup'],
  info: 'The feature group\'s online store keeps records until they are overwritten or deleted: it has no TTL. '
    + 'Fix: set `onlineStoreConfig.TtlDuration: { Unit: \'Days\', Value: <days> }` (PascalCase keys, the config is untyped), '
    + 'no longer than the purpose of the features needs.',
  explanation: 'Storage limitation (GDPR art. 5(1)(e)): a record about a person should expire from the online store once it is no longer needed for serving.',
  check: (node) => {
    const online = props(node).OnlineStoreConfig;
    if (!onlineStoreEnabled(online)) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return verdict(isObject(online) && isTtl(online.TtlDuration));
  },
};
