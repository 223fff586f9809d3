import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { holdsPersonalData, readClassification } from '../classified';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, asList, props } from '../template';

function appliesToWholeBucket(rule: Json): boolean {
  const prefix = rule.Prefix ?? rule.Filter?.Prefix;
  return (prefix === undefined || prefix === '') && rule.TagFilters === undefined
    && rule.ObjectSizeGreaterThan === undefined && rule.ObjectSizeLessThan === undefined;
}

function noncurrentDays(rule: Json): number | undefined {
  return rule.NoncurrentVersionExpiration?.NoncurrentDays ?? rule.NoncurrentVersionExpirationInDays;
}

export const S3BucketRetention: GdprRule = {
  name: 'S3BucketRetention',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'A bucket classified as personal data does not expire its objects within its declared retention (tag mlsd:retention-days). Fix: an enabled lifecycle rule over the whole bucket with `expiration` and `noncurrentVersionExpiration` of at most the retention (SecureBucket derives both from the classification).',
  explanation: 'Storage limitation (GDPR art. 5(1)(e)): personal data is kept no longer than its purpose needs, and old versions count as kept.',
  check: (node) => {
    if (!holdsPersonalData(node)) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const retention = readClassification(node).retentionDays;
    if (retention === undefined) {
      return ['retention-undeclared'];
    }
    const rules = asList(props(node).LifecycleConfiguration?.Rules)
      .filter((r) => r.Status === 'Enabled' && appliesToWholeBucket(r));
    const findings: string[] = [];
    if (!rules.some((r) => Number(r.ExpirationInDays) <= retention)) {
      findings.push('current-versions');
    }
    if (!rules.some((r) => Number(noncurrentDays(r)) <= retention)) {
      findings.push('noncurrent-versions');
    }
    return findingsOrCompliant(findings);
  },
};
