import { COMPLIANCE_SAMPLE } from './compliance-sample/stack';
import { BlueprintDefinition } from '../lib/app';

/** Every blueprint the app deploys, in the order `cdk ls` lists them. */
export const BLUEPRINTS: readonly BlueprintDefinition[] = [
  COMPLIANCE_SAMPLE,
];
