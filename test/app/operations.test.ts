/**
 * What operating every blueprint needs from its template: each alarm reaches a person or a workflow,
 * each workflow's failure reaches a person, each dead-letter queue has an alarm. Synthesized once for
 * all ten blueprints (without the gate, which the blueprints' own tests run).
 */
import { synthAllBlueprints } from '../support/blueprint';
import { endpointConfigIdOf } from '../../lib/sagemaker/deployed-config';

// Templates are read as CloudFormation JSON; their shapes vary by resource type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties?: Record<string, any> };
type Resources = Record<string, Resource>;

const templates: [string, Resources][] = synthAllBlueprints().map(({ stack, resources }) => [stack.stackName, resources as Resources]);

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const refs = (value: unknown): string[] => JSON.stringify(value ?? null).match(/"(?:Ref|Fn::GetAtt)":\s*(?:"([^"]+)"|\["([^"]+)")/g)?.map((m) => m.replace(/.*"([^"]+)"$/, '$1').replace(/.*\["?([^"]+)$/, '$1')) ?? [];

/** The logical ids an alarm-state EventBridge rule consumes (patterns on `aws.cloudwatch` naming alarms). */
function alarmsConsumedByRules(resources: Resources): Set<string> {
  const consumed = new Set<string>();
  for (const [, rule] of ofType(resources, 'AWS::Events::Rule')) {
    const pattern = rule.Properties?.EventPattern;
    if (!pattern?.source?.includes('aws.cloudwatch')) continue;
    for (const id of refs(pattern.detail?.alarmName ?? pattern.resources)) consumed.add(id);
  }
  return consumed;
}

test.each(templates)('%s: every alarm notifies the blueprint\'s alert topic', (_name, resources) => {
  const topics = ofType(resources, 'AWS::SNS::Topic').map(([id]) => id).filter((id) => id.startsWith('AlertingTopic'));
  expect(topics).toHaveLength(1);
  const alarms = [...ofType(resources, 'AWS::CloudWatch::Alarm'), ...ofType(resources, 'AWS::CloudWatch::CompositeAlarm')];
  expect(alarms.length).toBeGreaterThan(0);
  const consumed = alarmsConsumedByRules(resources);
  const silent = alarms
    .filter(([id, alarm]) => !consumed.has(id) && !(alarm.Properties?.AlarmActions ?? []).some((a: unknown) => refs(a).includes(topics[0])))
    .map(([id]) => id);
  expect(silent).toEqual([]);
});

test.each(templates)('%s: every workflow\'s failed, timed-out or aborted execution goes to the alert topic', (_name, resources) => {
  const machines = ofType(resources, 'AWS::StepFunctions::StateMachine').map(([id]) => id);
  expect(machines.length).toBeGreaterThan(0);
  const rules = ofType(resources, 'AWS::Events::Rule').filter(([, rule]) =>
    rule.Properties?.EventPattern?.source?.includes('aws.states') && rule.Properties?.EventPattern?.detail?.status?.includes('FAILED')
    && refs(rule.Properties.Targets).some((id) => id.startsWith('AlertingTopic')));
  expect(rules).toHaveLength(1);
  const watched = new Set(refs(rules[0][1].Properties!.EventPattern.detail.stateMachineArn));
  expect(machines.filter((id) => !watched.has(id))).toEqual([]);
});

test.each(templates)('%s: every dead-letter queue has an alarm on the messages it holds', (_name, resources) => {
  const deadLetterQueues = new Set<string>();
  for (const [, queue] of ofType(resources, 'AWS::SQS::Queue')) for (const id of refs(queue.Properties?.RedrivePolicy)) deadLetterQueues.add(id);
  for (const [, mapping] of ofType(resources, 'AWS::Lambda::EventSourceMapping')) for (const id of refs(mapping.Properties?.DestinationConfig)) deadLetterQueues.add(id);
  for (const [, fn] of ofType(resources, 'AWS::Lambda::Function')) for (const id of refs(fn.Properties?.DeadLetterConfig)) deadLetterQueues.add(id);
  const alarmed = new Set(ofType(resources, 'AWS::CloudWatch::Alarm')
    .filter(([, alarm]) => alarm.Properties?.Namespace === 'AWS/SQS' && alarm.Properties?.MetricName === 'ApproximateNumberOfMessagesVisible')
    .flatMap(([, alarm]) => refs(alarm.Properties?.Dimensions)));
  expect([...deadLetterQueues].filter((id) => resources[id]?.Type === 'AWS::SQS::Queue' && !alarmed.has(id))).toEqual([]);
});

test.each(templates)('%s: every endpoint a release loop serves deploys with the release\'s models, so that a deploy never undoes a promotion', (_name, resources) => {
  // One promotion handler per release (approvals, or a transform's versions, reach it).
  const released = new Set(ofType(resources, 'AWS::Lambda::Function')
    .filter(([, fn]) => fn.Properties?.Environment?.Variables?.RELEASE_MODEL_PACKAGE_GROUP !== undefined)
    .map(([id]) => id));
  const readers = ofType(resources, 'Custom::MlsdDeployedEndpointConfig').map(([id]) => id);
  expect(readers).toHaveLength(released.size);
  for (const [, endpoint] of ofType(resources, 'AWS::SageMaker::Endpoint')) {
    const [sourceId] = refs(endpoint.Properties!.EndpointConfigName);
    if (readers.includes(sourceId)) expect(endpoint.Properties!.EndpointConfigName).toEqual({ 'Fn::GetAtt': [sourceId, 'EndpointConfigName'] });
  }
});

test.each(templates)('%s: every model serves by approval: each endpoint has a release, each batch transform runs the newest approved version', (_name, resources) => {
  for (const [id, endpoint] of ofType(resources, 'AWS::SageMaker::Endpoint')) {
    const [sourceId] = refs(endpoint.Properties!.EndpointConfigName);
    expect({ endpoint: id, config: resources[sourceId]?.Type }).toEqual({ endpoint: id, config: 'Custom::MlsdDeployedEndpointConfig' });
  }
  let transforms = 0;
  for (const [id, machine] of ofType(resources, 'AWS::StepFunctions::StateMachine')) {
    const text = JSON.stringify(machine.Properties?.DefinitionString);
    if (!text.includes('sagemaker:createTransformJob')) continue;
    transforms += 1;
    // A window run embeds with the live index's model, which the rebuild that built the index resolved.
    const resolved = ['$.model.modelName', '$.state.answer.modelName'].some((path) => text.includes(`\\"ModelName.$\\":\\"${path}\\"`));
    expect({ machine: id, model: resolved }).toEqual({ machine: id, model: true });
  }
  // The blueprints with a batch side: street view, visual and video search, video recommendation, similar listings, PYMK.
  expect(transforms > 0).toBe(['MlsdStreetViewBlurring', 'MlsdVisualSearch', 'MlsdVideoSearch', 'MlsdVideoRecommendation', 'MlsdSimilarListings', 'MlsdPeopleYouMayKnow'].includes(_name));
});

test.each(templates)('%s: every endpoint starts at its minimum capacity, keeps run-time weights and counts across deploys, and changes models under guardrails', (_name, resources) => {
  const endpoints = ofType(resources, 'AWS::SageMaker::Endpoint');
  const targets = ofType(resources, 'AWS::ApplicationAutoScaling::ScalableTarget').filter(([, t]) => t.Properties?.ServiceNamespace === 'sagemaker');
  for (const [endpointId, endpoint] of endpoints) {
    expect(endpoint.Properties!.RetainAllVariantProperties).toBe(true);
    const rollback = refs(endpoint.Properties!.DeploymentConfig?.AutoRollbackConfiguration?.Alarms);
    expect(rollback.length).toBeGreaterThan(0);
    expect(rollback.every((id) => resources[id]?.Type === 'AWS::CloudWatch::Alarm')).toBe(true);
    // An endpoint with a release loop deploys with the config its reader answers: the template's
    // config (named in the reader's properties) with the models the release serves.
    const configId = endpointConfigIdOf(resources, endpoint) as string;
    expect(resources[configId]?.Type).toBe('AWS::SageMaker::EndpointConfig');
    for (const variant of resources[configId].Properties!.ProductionVariants as { VariantName: string; InitialInstanceCount: number }[]) {
      const target = targets.find(([, t]) => refs(t.Properties!.ResourceId).includes(endpointId) && JSON.stringify(t.Properties!.ResourceId).includes(`/variant/${variant.VariantName}`));
      expect({ variant: variant.VariantName, initial: variant.InitialInstanceCount }).toEqual({ variant: variant.VariantName, initial: target?.[1].Properties!.MinCapacity });
    }
  }
});
