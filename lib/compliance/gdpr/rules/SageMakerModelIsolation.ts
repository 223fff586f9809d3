import { NagMessageLevel } from 'cdk-nag';
import { isObject } from '../json';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, isTrue, props } from '../template';

/** A list with at least one item, none of them empty (items may be references). */
function nonEmptyList(value: Json): boolean {
  return Array.isArray(value) && value.length > 0 && value.every((v) => v !== undefined && v !== null && v !== '');
}

export const SageMakerModelIsolation: GdprRule = {
  name: 'SageMakerModelIsolation',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SageMaker::Model'],
  info: 'The model\'s containers can reach the network: network isolation is off (finding network-isolation) '
    + 'or the model does not run in a VPC with subnets and security groups (vpc). '
    + 'Fix: set `enableNetworkIsolation: true` and `vpcConfig: { subnets, securityGroupIds }` on the model.',
  explanation: 'Inference and batch-transform containers receive personal data; without isolation in a VPC a container can send it anywhere. '
    + 'Network isolation and private subnets are the technical measures of GDPR art. 32 and data protection by design (art. 25).',
  check: (node) => {
    const p = props(node);
    const findings: string[] = [];
    if (!isTrue(p.EnableNetworkIsolation)) {
      findings.push('network-isolation');
    }
    const vpc = p.VpcConfig;
    if (!(isObject(vpc) && nonEmptyList(vpc.Subnets) && nonEmptyList(vpc.SecurityGroupIds))) {
      findings.push('vpc');
    }
    return findingsOrCompliant(findings);
  },
};
