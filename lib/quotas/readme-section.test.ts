import { KitError } from '../errors';
import { QuotaNeed } from './quota-needs';
import { QUOTAS_END, QUOTAS_START, currentQuotaSection, placeQuotaSection, quotaSection } from './readme-section';
import { LAMBDA_CONCURRENT_EXECUTIONS, CHECK_THE_CONSOLE } from './defaults';

const needs: QuotaNeed[] = [
  { service: 'Amazon SageMaker', serviceCode: 'sagemaker', quota: 'ml.c5.2xlarge for endpoint usage', needed: 76, from: ['Ep · champion: autoscaling maximum 68', 'Ep · challenger: autoscaling maximum 8'], awsDefault: CHECK_THE_CONSOLE, channel: 'service-quotas' },
  { service: 'AWS Lambda', serviceCode: 'lambda', quota: 'Concurrent executions', needed: 1163, from: ['Live | alias: 1,042'], awsDefault: LAMBDA_CONCURRENT_EXECUTIONS, channel: 'service-quotas' },
  { service: 'AWS Lambda', quota: 'Another quota with the same source', needed: 1, atLeast: true, from: ['x'], awsDefault: LAMBDA_CONCURRENT_EXECUTIONS, channel: 'service-quotas' },
];

describe('quotaSection', () => {
  const section = quotaSection({ region: 'eu-west-1', needs });

  test('sits between the markers, under its heading, with the way to raise a quota', () => {
    expect(section.startsWith(`${QUOTAS_START}\n## Service quotas at peak\n`)).toBe(true);
    expect(section.endsWith(`${QUOTAS_END}\n`)).toBe(true);
    expect(section).toContain('in eu-west-1');
    expect(section).toContain('aws service-quotas request-service-quota-increase');
  });

  test('one table row per quota; pipes in names escaped; a source footnoted once', () => {
    expect(section).toContain('| Amazon SageMaker (`sagemaker`) | ml.c5.2xlarge for endpoint usage | 76 | check the console | Ep · champion: autoscaling maximum 68; Ep · challenger: autoscaling maximum 8 |');
    expect(section).toContain('| AWS Lambda (`lambda`) | Concurrent executions | 1,163 | 1,000 (less in new accounts) [1] | Live \\| alias: 1,042 |');
    expect(section).toContain('| ≥ 1 | 1,000 (less in new accounts) [1] |');
    expect(section.match(/^1\. AWS Lambda Developer Guide/m)).not.toBeNull();
    expect(section).not.toMatch(/^2\. /m);
  });

  test('explains only the counting rules of the rows present', () => {
    expect(section).toContain('- Endpoints:');
    expect(section).toContain('- Lambda:');
    expect(section).not.toContain('- Jobs:');
    expect(section).not.toContain('- OpenSearch Serverless:');
  });

  test('a template with nothing to count says so', () => {
    expect(quotaSection({ region: 'eu-west-1', needs: [] })).toContain('The template holds nothing');
  });
});

describe('placeQuotaSection', () => {
  const section = quotaSection({ region: 'eu-west-1', needs });
  const readme = '# Blueprint\n\n## Figures\n\nNumbers.\n\n## Deploy\n\n```sh\nnpx cdk deploy\n```\n\n## Model code\n\nCode.\n';

  test('inserts the section once, after the deploy section', () => {
    const placed = placeQuotaSection(readme, section);
    expect(placed).toBe(`# Blueprint\n\n## Figures\n\nNumbers.\n\n## Deploy\n\n\`\`\`sh\nnpx cdk deploy\n\`\`\`\n\n${section}\n## Model code\n\nCode.\n`);
    expect(placeQuotaSection(placed, section)).toBe(placed);
  });

  test('afterwards replaces only what is between the markers, wherever a person moved them', () => {
    const moved = `# Blueprint\n\n${QUOTAS_START}\nold table\n${QUOTAS_END}\n\n## Deploy\n\nText.\n`;
    expect(placeQuotaSection(moved, section)).toBe(`# Blueprint\n\n${section}\n## Deploy\n\nText.\n`);
    expect(currentQuotaSection(placeQuotaSection(moved, section))).toBe(section);
  });

  test('a README without a deploy section gets the section at its end', () => {
    expect(placeQuotaSection('# Blueprint\n\nText.\n\n', section)).toBe(`# Blueprint\n\nText.\n\n${section}`);
  });

  test('fails on a lone marker rather than guess where the section ends', () => {
    expect(() => placeQuotaSection(`# B\n\n${QUOTAS_START}\n`, section)).toThrow(KitError);
    expect(() => placeQuotaSection(`# B\n\n${QUOTAS_END}\n${QUOTAS_START}\n`, section)).toThrow(/without <!-- quotas:end --> after it/);
  });

  test('currentQuotaSection is undefined without markers', () => {
    expect(currentQuotaSection(readme)).toBeUndefined();
  });
});
