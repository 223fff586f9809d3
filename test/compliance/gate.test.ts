import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { createKitApp } from '../support/app';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-gate-'));
}

// With the defaults, each blueprint's own test synthesizes its stack through the gate once
// (test/support/blueprint.ts); the whole app is synthesized here with the other setting.
describe.each([
  ['destroy on removal', { destroyOnRemoval: 'true' }],
])('every stack of the kit passes the gate (%s)', (_name, context) => {
  const { app } = createKitApp(context);

  test('synthesizes without a blocking finding', () => {
    expect(() => app.synth()).not.toThrow();
  });

  test('has no GDPR violation', () => {
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
  });

  test('has no AWS Solutions error', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('acknowledges granular findings one by one, each with a specific reason', () => {
    for (const ack of listAcknowledgments(app)) {
      expect(ack.reason.length).toBeGreaterThanOrEqual(40);
      // IAM4/IAM5 report one finding per wildcard or managed policy: acknowledging the bare rule would hide future ones.
      expect(ack.ruleId).not.toMatch(/^AwsSolutions-IAM[45]$/);
    }
  });
});

describe('optional packs', () => {
  test('-c packs=hipaa reports HIPAA findings as warnings without failing synth', () => {
    const out = tempDir();
    const { app } = createKitApp({ packs: 'hipaa', blueprint: 'street-view-blurring' }, out);
    expect(() => app.synth()).not.toThrow();
    const report = JSON.parse(fs.readFileSync(path.join(out, 'validation-report.json'), 'utf8'));
    const hipaa = report.pluginReports.find((r: { pluginName: string }) => r.pluginName === 'HIPAA.Security');
    expect(hipaa.conclusion).toBe('success');
    expect(hipaa.violations.length).toBeGreaterThan(0);
    expect(new Set(hipaa.violations.map((v: { severity: string }) => v.severity))).toEqual(new Set(['warning']));
  });
});
