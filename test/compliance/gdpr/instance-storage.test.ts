import { hasLocalNvmeStorage, instanceFamily } from '../../../lib/compliance/gdpr/instance-storage';

test.each([
  ['ml.g5.xlarge', true],
  ['ml.g5.48xlarge', true],
  ['ml.g4dn.xlarge', true],
  ['ml.g6.2xlarge', true],
  ['ml.g6e.12xlarge', true],
  ['ml.gr6.4xlarge', true],
  ['ml.p3dn.24xlarge', true],
  ['ml.p4d.24xlarge', true],
  ['ml.p4de.24xlarge', true],
  ['ml.p5.48xlarge', true],
  ['ml.p5e.48xlarge', true],
  ['ml.p5en.48xlarge', true],
  ['ml.trn1.32xlarge', true],
  ['ml.trn1n.32xlarge', true],
  ['ml.m5d.large', true],
  ['ml.c5d.2xlarge', true],
  ['ml.r5d.xlarge', true],
  ['ml.m6gd.large', true],
  ['ml.c6gd.large', true],
  ['ml.r6gd.2xlarge', true],
  ['ml.c6id.4xlarge', true],
  ['ml.m6id.large', true],
  ['ml.m5.xlarge', false],
  ['ml.m5.large', false],
  ['ml.c5.xlarge', false],
  ['ml.c6i.large', false],
  ['ml.c7g.large', false],
  ['ml.r5.large', false],
  ['ml.t3.medium', false],
  ['ml.p3.2xlarge', false],
  ['ml.g4ad.xlarge', true],
  ['ml.inf1.xlarge', false],
  ['ml.inf2.xlarge', false],
  ['ml.trn2.48xlarge', true],
  ['ml.p6-b200.48xlarge', true],
  ['m5d.large', false],
  ['', false],
  ['ml.g5', false],
])('hasLocalNvmeStorage(%j) is %s', (instanceType, expected) => {
  expect(hasLocalNvmeStorage(instanceType)).toBe(expected);
});

test('instanceFamily reads the family of an ml instance type', () => {
  expect(instanceFamily('ml.c6gd.large')).toBe('c6gd');
  expect(instanceFamily('c6gd.large')).toBeUndefined();
});
