import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { isObject } from '../json';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, props, rendered } from '../template';

function isGiven(value: Json): boolean {
  return isObject(value) || (typeof value === 'string' && value !== '');
}

/** What a Studio domain lacks: VPC-only apps and a customer key on its EFS volume. */
function domainFindings(node: CfnResource, p: Record<string, Json>): string[] {
  return [
    ...(p.AppNetworkAccessType === 'VpcOnly' ? [] : ['public-internet']),
    ...(isCustomerKey(node, p.KmsKeyId) ? [] : ['volume-key']),
  ];
}

/** What a notebook instance lacks: no direct internet, a subnet, a customer key on its volume. */
function notebookFindings(node: CfnResource, p: Record<string, Json>): string[] {
  return [
    ...(p.DirectInternetAccess === 'Disabled' ? [] : ['direct-internet']),
    ...(isGiven(p.SubnetId) ? [] : ['vpc']),
    ...(isCustomerKey(node, p.KmsKeyId) ? [] : ['volume-key']),
  ];
}

export const SageMakerStudioIsolation: GdprRule = {
  name: 'SageMakerStudioIsolation',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SageMaker::Domain', 'AWS::SageMaker::NotebookInstance'],
  info: 'A SageMaker Studio domain or notebook instance can reach the internet or keeps its storage under an AWS-managed key. Findings: '
    + '`public-internet` (Domain: AppNetworkAccessType must be VpcOnly), `direct-internet` (NotebookInstance: DirectInternetAccess must be Disabled), '
    + '`vpc` (NotebookInstance: SubnetId), `volume-key` (KmsKeyId, a customer-managed key).',
  explanation: 'People explore training data (personal data) in Studio and notebooks: the same isolation as the jobs (no path to the internet, GDPR art. 32) '
    + 'and storage under keys the controller governs.',
  check: (node) => {
    const p = props(node);
    return findingsOrCompliant(rendered(node).type === 'AWS::SageMaker::Domain' ? domainFindings(node, p) : notebookFindings(node, p));
  },
};
