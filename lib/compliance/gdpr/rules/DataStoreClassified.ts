import { NagMessageLevel } from 'cdk-nag';
import { DataCategory } from '../../../classification';
import { readClassification } from '../classified';
import { DATA_STORE_TYPES } from '../data-stores';
import { GdprRule, findingsOrCompliant } from '../rule';

export const DataStoreClassified: GdprRule = {
  name: 'DataStoreClassified',
  level: NagMessageLevel.ERROR,
  resourceTypes: DATA_STORE_TYPES,
  info: 'The data store lacks a valid classification (tags mlsd:data-category, mlsd:data-purpose, mlsd:retention-days). Fix: call `classify(store, { category, purpose, retention })` from lib/classification.',
  explanation: 'The record of processing (GDPR art. 30) starts with knowing what each store holds, why, and for how long; the other rules read these tags.',
  check: (node) => {
    const c = readClassification(node);
    const findings: string[] = [];
    if (!Object.values(DataCategory).includes(c.category as DataCategory)) {
      findings.push('category');
    }
    if (!c.purpose) {
      findings.push('purpose');
    }
    if (c.retentionDays === undefined) {
      findings.push('retention-days');
    }
    return findingsOrCompliant(findings);
  },
};
