import { COMPLIANCE_SAMPLE } from './compliance-sample/stack';
import { DATA_PLATFORM_SAMPLE } from './data-platform-sample/stack';
import { MODEL_PLATFORM_SAMPLE } from './model-platform-sample/stack';
import { BlueprintDefinition } from '../lib/app';

/** Every blueprint the app deploys, in the order `cdk ls` lists them. */
export const BLUEPRINTS: readonly BlueprintDefinition[] = [
  COMPLIANCE_SAMPLE,
  DATA_PLATFORM_SAMPLE,
  MODEL_PLATFORM_SAMPLE,
];
