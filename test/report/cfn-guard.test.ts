import { controlOf, failingControls, markdown } from '../../scripts/cfn-guard/main';

const PLUGIN = 'cdk-validator-cfnguard';

/** The shape of aws-cdk-lib 2.276's validation-report.json, trimmed to what the report reads. */
const REPORT = {
  pluginReports: [
    {
      pluginName: PLUGIN,
      violations: [
        {
          ruleName: 's3_bucket_logging_enabled',
          description: '[CT.S3.PR.2]: Require an Amazon S3 bucket to have server access logging configured',
          violatingConstructs: [
            { constructPath: 'MlsdNewsFeed/Lake/AccessLogs/Resource', cloudFormationResource: { templatePath: 'MlsdNewsFeed.template.json', logicalId: 'LakeAccessLogs1' } },
            { constructPath: 'MlsdVisualSearch/Lake/AccessLogs/Resource', cloudFormationResource: { templatePath: 'MlsdVisualSearch.template.json', logicalId: 'LakeAccessLogs2' } },
          ],
        },
        {
          ruleName: 'lambda_function_public_access_prohibited_check',
          description: '[CT.LAMBDA.PR.2]: Require AWS Lambda function policies to prohibit public access',
          violatingConstructs: [
            { constructPath: 'MlsdNewsFeed/Serving/Api/Resource/Default/serve/POST/ApiPermission.MlsdNewsFeedServingApiCFC0354D.POST..serve' },
            // cfn-guard also reports a clause that matched no resource, which the plugin turns into an empty path.
            { constructPath: '' },
          ],
        },
      ],
    },
    {
      pluginName: 'AwsSolutions',
      violations: [{ ruleName: 'AwsSolutions-S1', description: 'not ours', violatingConstructs: [{ constructPath: 'MlsdNewsFeed/Other/Resource' }] }],
    },
  ],
};

test('reads the control id from the rule\'s description, and keeps the rule name when there is none', () => {
  expect(controlOf({ ruleName: 'x', description: '[CT.KMS.PR.3]: Require a key policy' })).toEqual({ id: 'CT.KMS.PR.3', description: 'Require a key policy' });
  expect(controlOf({ ruleName: 'my_rule', description: 'A local rule' })).toEqual({ id: 'my_rule', description: 'A local rule' });
});

test('groups the plugin\'s violations by control and stack, drops empty paths and other plugins, and names per-stack constructs alike', () => {
  const controls = failingControls(REPORT, PLUGIN);
  expect(controls.map((c) => [c.id, Object.fromEntries(c.resources)])).toEqual([
    ['CT.LAMBDA.PR.2', { MlsdNewsFeed: ['Serving/Api/Resource/Default/serve/POST/ApiPermission.<stack>ServingApi.POST..serve'] }],
    ['CT.S3.PR.2', { MlsdNewsFeed: ['Lake/AccessLogs/Resource'], MlsdVisualSearch: ['Lake/AccessLogs/Resource'] }],
  ]);
});

test('the markdown has a row per control with its count and the explanation\'s four parts', () => {
  const controls = failingControls(REPORT, PLUGIN);
  const explanation = { verdict: 'kept', why: 'WHY-TEXT', matters: 'MATTERS-TEXT', action: 'ACTION-TEXT' };
  const text = markdown(controls, { 'CT.S3.PR.2': explanation, 'CT.LAMBDA.PR.2': explanation }, {
    rules: 237, stacks: 2, seconds: 10, guardSeconds: 4, pluginVersion: '0.0.62',
  });
  expect(text).toContain('**2 controls fail, on 3 resource findings.**');
  expect(text).toContain('| [CT.S3.PR.2](#cts3pr2) | 2 | 2 | kept |');
  expect(text).toContain('- **Fails on** 2 resource(s) in 2 stack(s): `Lake/AccessLogs` ×2.');
  for (const part of ['WHY-TEXT', 'MATTERS-TEXT', 'ACTION-TEXT']) {
    expect(text.split(part).length - 1).toBe(2);
  }
});
