// CloudFormation's schema validation costs about two seconds per test file to start and more per
// synth. `npm test` validates every blueprint template once (its `cdk synth` step), and the tests
// that apply the compliance gate or check a GDPR fixture turn it back on for their own apps
// (test/support/gate.ts), so the other synths in jest skip it. `CDK_VALIDATION=true npx jest`
// validates everything.
if (process.env.CDK_VALIDATION === undefined) {
  process.env.CDK_VALIDATION = 'false';
}
