import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { REPO_ROOT, createKitApp } from '../support/app';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-gate-'));
}

function cdk(args: string[]) {
  return spawnSync('npx', ['cdk', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' } });
}

const VIOLATING_APP = 'npx ts-node --transpile-only test/fixtures/violating-app.ts';

describe.each([
  ['defaults', {}],
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

describe('a violating app, through the cdk CLI', () => {
  test('fails synth with our rule id, the construct path and the fix, and the report names the rule', () => {
    const out = tempDir();
    const result = cdk(['synth', '--app', VIOLATING_APP, '--output', out, '--quiet']);
    expect(result.status).not.toBe(0);
    const output = result.stdout + result.stderr;
    expect(output).toContain('GDPR-S3BucketKmsEncryption');
    expect(output).toContain('MlsdViolating/Data/Resource');
    expect(output).toContain('Fix: set `encryption: BucketEncryption.KMS`');
    const report = fs.readFileSync(path.join(out, 'validation-report.json'), 'utf8');
    expect(report).toContain('GDPR-S3BucketKmsEncryption');
    expect(report).toContain('MlsdViolating/Data/Resource');
  });

  test('passes once the finding is acknowledged with a reason', () => {
    const out = tempDir();
    const result = cdk(['synth', '--app', VIOLATING_APP, '--output', out, '--quiet', '-c', 'acknowledge=true']);
    expect(result.stderr).not.toContain('GDPR-S3BucketKmsEncryption');
    expect(result.status).toBe(0);
    expect(fs.existsSync(path.join(out, 'MlsdViolating.template.json'))).toBe(true);
  });
});

describe('the kit CLI on bad input', () => {
  test.each([
    [['-c', 'blueprint=nope'], /mlsd-blueprints: Unknown blueprint 'nope' in -c blueprint=\.\.\.; valid ids: visual-search, street-view-blurring/],
    [['-c', 'region=us-east-1'], /mlsd-blueprints: Region 'us-east-1' is outside the data-residency allow-list/],
  ])('%j prints one clear line, no stack trace', (args, message) => {
    const result = cdk(['synth', '--quiet', '--output', tempDir(), ...args]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('node_modules/aws-cdk-lib');
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
