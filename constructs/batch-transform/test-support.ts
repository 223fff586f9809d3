/**
 * The fixtures the batch transform's tests share: the people-you-may-know pairs of a lake (a key
 * and a sort key that hold subjects, numeric and boolean features, a time column), and a model
 * placed as the real-time endpoint's are (in the VPC, network-isolated, with a role of its own).
 */
import { aws_iam as iam, aws_sagemaker as sagemaker, Stack } from 'aws-cdk-lib';
import { ColumnAction, ColumnClassification, DataLake, Generalization, ICuratedDataset, RowRetention } from '../data-lake';
import type { Network } from '../network';

/** The purpose of the fixtures' lake, cache and index. */
export const PAIRS_PURPOSE = 'people you may know';

/** The dataset `user_pairs`: user → candidate, with the features the transform's model reads. */
export function addUserPairs(lake: DataLake): ICuratedDataset {
  return lake.addDataset('user_pairs', {
    retention: RowRetention.byTimeColumn('last_seen'),
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'candidate_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'mutual_friends', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
      { name: 'affinity', type: 'double', classification: ColumnClassification.NON_PERSONAL },
      { name: 'same_school', type: 'boolean', classification: ColumnClassification.NON_PERSONAL },
      { name: 'last_seen', type: 'timestamp', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
    ],
  });
}

/** A model like the real-time endpoint's: in the VPC, network-isolated, with a role of its own. */
export function endpointModel(stack: Stack, network: Network, lake: DataLake): { model: sagemaker.CfnModel; role: iam.Role } {
  const role = new iam.Role(stack, 'ModelRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  const securityGroup = network.securityGroupFor(stack, 'ModelSecurityGroup', 'Ranking model');
  const model = new sagemaker.CfnModel(stack, 'Model', {
    executionRoleArn: role.roleArn,
    primaryContainer: { image: '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1', modelDataUrl: `s3://${lake.artifactsBucket.bucketName}/models/pymk/model.tar.gz` },
    vpcConfig: { securityGroupIds: [securityGroup.securityGroupId], subnets: network.vpc.selectSubnets(network.subnets).subnetIds },
    enableNetworkIsolation: true,
  });
  return { model, role };
}
