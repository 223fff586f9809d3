/**
 * An endpoint whose config a custom resource names at deploy time (a release loop's reader:
 * constructs/release) deploys the template's config with other models. Template readers (cost,
 * quotas, tests) size it from the template's config, which the reader names in its properties.
 */

/** CloudFormation type of the deploy-time config reader's custom resource. */
export const DEPLOYED_ENDPOINT_CONFIG_TYPE = 'Custom::MlsdDeployedEndpointConfig';
/** Its property naming the template's endpoint config. */
export const TEMPLATE_ENDPOINT_CONFIG_PROPERTY = 'TemplateEndpointConfigName';

// Template JSON, read as CloudFormation does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function target(value: Json): string | undefined {
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') return value.Ref;
    if (Array.isArray(value['Fn::GetAtt'])) return value['Fn::GetAtt'][0];
  }
  return undefined;
}

/**
 * Logical id of the `AWS::SageMaker::EndpointConfig` an endpoint is sized by: the one its
 * `EndpointConfigName` references, or, through a deploy-time reader, the one the reader copies.
 */
export function endpointConfigIdOf(resources: Readonly<Record<string, Json>>, endpoint: Json): string | undefined {
  const id = target(endpoint?.Properties?.EndpointConfigName);
  if (id === undefined) return undefined;
  const resource = resources[id];
  return resource?.Type === DEPLOYED_ENDPOINT_CONFIG_TYPE ? target(resource.Properties?.[TEMPLATE_ENDPOINT_CONFIG_PROPERTY]) : id;
}
