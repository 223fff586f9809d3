import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../support/app';

// The few tests that need the real CLI (bin/app.ts through ts-node, the CLI's error output): kept in
// a file of their own so that they run beside the in-process gate tests, not after them.

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-gate-'));
}

function cdk(args: string[]) {
  // The CLI runs as a user runs it: with CloudFormation's schema validation that jest's setup turns off.
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' };
  delete env.CDK_VALIDATION;
  return spawnSync('npx', ['cdk', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env });
}

const VIOLATING_APP = 'npx ts-node --transpile-only test/fixtures/violating-app.ts';

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
