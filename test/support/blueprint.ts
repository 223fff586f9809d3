import { PolicyViolation, Stack } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../../blueprints';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { kitApp } from './app';
import { BlueprintDefinition, createApp } from '../../lib/app';
import { GdprChecks } from '../../lib/compliance/gdpr';
import { listAcknowledgments } from '../../lib/compliance/acknowledgments';
import { MIN_REASON_LENGTH } from '../../lib/compliance/acknowledge';

/** A blueprint's stack as `cdk synth -c blueprint=<id>` builds it, gate included, synthesized once. */
export interface SynthesizedBlueprint {
  readonly stack: Stack;
  readonly template: Template;
  /** Error-level findings of the GDPR pack and AwsSolutions, after acknowledgments (empty when the gate passes). */
  readonly gateErrors: readonly PolicyViolation[];
  /** Acknowledgments in the stack whose reason is shorter than the kit's minimum, or that acknowledge a bare IAM4/IAM5 rule. */
  readonly vagueAcknowledgments: readonly string[];
}

/**
 * Synthesizes `definition` through the app factory in eu-west-1 with a fixed account, so that
 * snapshots do not depend on the machine's environment. Synthesis runs the compliance gate as
 * `cdk synth` does, so a gate error fails here too.
 */
export function synthBlueprint(definition: BlueprintDefinition): SynthesizedBlueprint {
  const saved = process.env.CDK_DEFAULT_ACCOUNT;
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  try {
    const app = kitApp({ blueprint: definition.id });
    const [stack] = createApp(app, { blueprints: [definition] });
    app.synth();
    const errors = (v: PolicyViolation) => v.severity === 'error' || v.severity === undefined;
    const gateErrors = [
      ...new GdprChecks().validateScope(stack).violations.filter(errors),
      ...new AwsSolutionsChecks().validateScope(stack).violations.filter(errors),
    ];
    // A reason too short to review, or a bare IAM4/IAM5 id: those rules report one finding per
    // wildcard or managed policy, so acknowledging the bare rule would hide future ones.
    const vagueAcknowledgments = listAcknowledgments(stack)
      .filter((a) => a.reason.trim().length < MIN_REASON_LENGTH || /^AwsSolutions-IAM[45]$/.test(a.ruleId))
      .map((a) => `${a.ruleId} at ${a.constructPath}`);
    return { stack, template: Template.fromStack(stack), gateErrors, vagueAcknowledgments };
  } finally {
    if (saved === undefined) {
      delete process.env.CDK_DEFAULT_ACCOUNT;
    } else {
      process.env.CDK_DEFAULT_ACCOUNT = saved;
    }
  }
}

/**
 * Every blueprint's stack, synthesized once as `cdk synth` does (fixed account, an alert subscriber,
 * eu-west-1) but without the gate, which each blueprint's own tests run: for the checks that walk
 * all ten templates. Each stack comes with its template's resources.
 */
// Templates are read as CloudFormation JSON; their shapes vary by resource type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function synthAllBlueprints(): { stack: Stack; resources: Record<string, any> }[] {
  const saved = process.env.CDK_DEFAULT_ACCOUNT;
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  try {
    const app = kitApp({ alertEmail: 'oncall@example.com' });
    const stacks = createApp(app, { blueprints: BLUEPRINTS, complianceGate: false });
    const assembly = app.synth();
    return stacks.map((stack) => ({ stack, resources: assembly.getStackByName(stack.stackName).template.Resources }));
  } finally {
    if (saved === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
    else process.env.CDK_DEFAULT_ACCOUNT = saved;
  }
}

/**
 * The definition, as JSON text, of the one state machine whose definition contains `marker`
 * (a state name, a job name prefix, an SDK action): what a blueprint test reads its workflow by.
 * Fails naming the marker when no state machine or several contain it.
 */
export function workflowDefinition(template: Template, marker: string): string {
  const found = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))
    .map((machine) => JSON.stringify(machine.Properties.DefinitionString))
    .filter((definition) => definition.includes(marker));
  if (found.length !== 1) {
    throw new Error(`expected one state machine whose definition contains '${marker}', found ${found.length}`);
  }
  return found[0];
}

/**
 * The serving function's pipeline configuration (SERVING_PIPELINE), parsed as the handler parses
 * it, with values known only at deploy time replaced by `DEPLOY-TIME`.
 */
// The tests read the configuration's JSON freely, as the handler does after validating it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function servingPipeline(template: Template): Record<string, any> {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function')).filter((r) => JSON.stringify(r).includes('SERVING_PIPELINE'));
  if (fn === undefined) throw new Error('no function with a SERVING_PIPELINE environment');
  const text = JSON.stringify(fn.Properties.Environment.Variables.SERVING_PIPELINE['Fn::Join'][1]
    .map((part: unknown) => (typeof part === 'string' ? part : 'DEPLOY-TIME')).join(''));
  return JSON.parse(JSON.parse(text));
}

/** What a blueprint's figures make of its serving path's entry and concurrency. */
export interface ServingCapacityLiterals {
  readonly throttleRate: number;
  readonly throttleBurst: number;
  readonly minConcurrency: number;
  readonly maxConcurrency: number;
}

/** The request path is a private API with IAM authorization, throttled and concurrent as given. */
export function expectPrivateServingApi(template: Template, expected: ServingCapacityLiterals): void {
  template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['PRIVATE'] } });
  template.allResourcesProperties('AWS::ApiGateway::Method', { AuthorizationType: 'AWS_IAM' });
  template.hasResourceProperties('AWS::ApiGateway::Stage', {
    MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: expected.throttleRate, ThrottlingBurstLimit: expected.throttleBurst })]),
  });
  template.hasResourceProperties('AWS::Lambda::Alias', { ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: expected.minConcurrency } });
  template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    MinCapacity: expected.minConcurrency, MaxCapacity: expected.maxConcurrency, ScalableDimension: 'lambda:function:ProvisionedConcurrency',
  });
}

/**
 * The release loop's settings (constructs/release) as its handlers read them: each `RELEASE_*`
 * variable of the promotion handler (`RELEASE_MODEL_PACKAGE_GROUP`) or the ramp controller
 * (`RELEASE_BUSINESS_METRIC`), JSON parsed, values known only at deploy time as `DEPLOY-TIME`.
 * Fails unless exactly one function of that kind (of the endpoint `endpointName`, when given) is in
 * the template.
 */
// The tests read the settings' JSON freely, as the handlers do after validating it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function releaseSettings(template: Template, handler: 'promotion' | 'ramp', endpointName?: string): Record<string, any> {
  const marker = handler === 'promotion' ? 'RELEASE_MODEL_PACKAGE_GROUP' : 'RELEASE_BUSINESS_METRIC';
  const found = Object.values(template.findResources('AWS::Lambda::Function')).filter((r) => r.Properties.Environment?.Variables?.[marker] !== undefined
    && (endpointName === undefined || JSON.stringify(r.Properties.Environment.Variables.RELEASE_ENDPOINT).includes(`\\"endpointName\\":\\"${endpointName}\\"`)));
  if (found.length !== 1) throw new Error(`expected one function with ${marker} in its environment${endpointName === undefined ? '' : ` for endpoint ${endpointName}`}, found ${found.length}`);
  const variables = found[0].Properties.Environment.Variables as Record<string, unknown>;
  const text = (value: unknown): string => (typeof value === 'string' ? value
    : ((value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]).map((part) => (typeof part === 'string' ? part : 'DEPLOY-TIME')).join(''));
  const parse = (value: string): unknown => {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  };
  return Object.fromEntries(Object.entries(variables).filter(([name]) => name.startsWith('RELEASE_')).map(([name, value]) => [name, parse(text(value))]));
}
