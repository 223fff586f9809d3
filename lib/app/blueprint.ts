import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** A case study the app can deploy: one stack, with a stable id and name. */
export interface BlueprintDefinition {
  /** Selects the blueprint with `-c blueprint=<id>`, e.g. `video-recommendation`. */
  readonly id: string;
  /**
   * The stack's name, e.g. `MlsdVideoRecommendation`. It is the CloudFormation stack
   * name: changing it deploys a new stack beside the old one.
   */
  readonly stackName: string;
  /**
   * The prefix of every physical name the blueprint gives its resources (`vrec` in
   * `vrec-ranking`): names are unique per account and region, so two blueprints, or a blueprint
   * and its fork, need different prefixes. `npm run fork` rewrites it.
   */
  readonly namePrefix: string;
  /** One line on what the blueprint deploys; becomes the stack description. */
  readonly description: string;
  /** Builds the stack. `props` carries the environment and name the app chose. */
  readonly create: (scope: Construct, id: string, props: StackProps) => Stack;
}
