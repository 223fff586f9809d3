import * as fs from 'fs';
import * as path from 'path';
import { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport, PolicyViolation } from 'aws-cdk-lib';
import { ErrorsBlock, GDPR_RULES, GdprChecks, ReportOnly } from '../../lib/compliance';

function fakePlugin(severities: string[]): IPolicyValidationPlugin {
  return {
    name: 'Fake',
    validate: (): PolicyValidationPluginReport => ({
      success: severities.length === 0,
      violations: severities.map((severity, i): PolicyViolation => ({ ruleName: `Fake-R${i}`, description: 'd', severity, violatingResources: [] })),
    }),
  };
}

const context = {} as IPolicyValidationContext;

test.each<[string[], boolean]>([
  [[], true],
  [['warning'], true],
  [['warning', 'error'], false],
])('ErrorsBlock: findings %j let synth pass = %s', (severities, success) => {
  expect(new ErrorsBlock(fakePlugin(severities)).validate(context).success).toBe(success);
});

test('ReportOnly never blocks and reports every finding as a warning, under the pack\'s own name', () => {
  const plugin = new ReportOnly(fakePlugin(['error', 'warning']));
  const report = plugin.validate(context);
  expect(plugin.name).toBe('Fake');
  expect(report.success).toBe(true);
  expect(report.violations.map((v) => v.severity)).toEqual(['warning', 'warning']);
});

test('GdprChecks lists its rule ids with the GDPR- prefix', () => {
  expect(new GdprChecks().ruleIds).toEqual(GDPR_RULES.map((r) => `GDPR-${r.name}`));
});

test('every GDPR rule has its own file, named after it, and a test file with its fixtures', () => {
  const names = GDPR_RULES.map((r) => r.name);
  expect(new Set(names).size).toBe(names.length);
  for (const name of names) {
    expect(fs.existsSync(path.join(__dirname, '..', '..', 'lib', 'compliance', 'gdpr', 'rules', `${name}.ts`))).toBe(true);
    const fixtures = path.join(__dirname, 'gdpr', 'rules', `${name}.test.ts`);
    expect(fs.existsSync(fixtures)).toBe(true);
    expect(fs.readFileSync(fixtures, 'utf8')).toContain(`GDPR-${name}`);
  }
});
