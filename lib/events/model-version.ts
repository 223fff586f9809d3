import type { aws_events as events } from 'aws-cdk-lib';
import type { Node } from 'constructs';

/**
 * The event a batch transform run raises when it ran with an approved version of a model package
 * group (`BatchTransform.modelPackageGroupName`), and a release consumes to put the same version on
 * an endpoint that must agree with the run's output: the query encoder of an index the run embedded
 * (`ModelRelease.releaseAfter`). One contract, so that either side can be swapped.
 *
 * Detail: the fields of SageMaker's "SageMaker Model Package State Change" a release reads, and the
 * pipeline: `{ "Pipeline": string, "ModelPackageGroupName": string, "ModelPackageArn": string,
 *              "ModelPackageVersion": number, "ModelApprovalStatus": "Approved" }`.
 */
export const TRANSFORM_EVENT_SOURCE = 'mlsd.batch-transform';
export const MODEL_VERSION_TRANSFORMED = 'Model Version Transformed';

/** The detail of a {@link MODEL_VERSION_TRANSFORMED} event. */
export interface ModelVersionTransformedDetail {
  /** The batch transform's name. */
  readonly Pipeline: string;
  readonly ModelPackageGroupName: string;
  readonly ModelPackageArn: string;
  readonly ModelPackageVersion: number;
  /** Always `Approved` when the run used it; consumers check the package as it is now. */
  readonly ModelApprovalStatus: 'Approved';
}

/** The pattern of one pipeline's events for one group (on the default event bus). */
export function modelVersionTransformedPattern(pipeline: string, modelPackageGroupName: string): events.EventPattern {
  return {
    source: [TRANSFORM_EVENT_SOURCE],
    detailType: [MODEL_VERSION_TRANSFORMED],
    detail: { Pipeline: [pipeline], ModelPackageGroupName: [modelPackageGroupName], ModelApprovalStatus: ['Approved'] },
  };
}

/** Something that announces the approved versions it ran: a `BatchTransform` with `modelPackageGroupName`. */
export interface ModelVersionAnnouncer {
  readonly node: Node;
  /** The group whose versions it runs; undefined when it runs a fixed model (it then announces nothing). */
  readonly modelPackageGroupName?: string;
  /** The pattern of its announcements ({@link modelVersionTransformedPattern}). */
  modelVersionEvents(): events.EventPattern;
}
