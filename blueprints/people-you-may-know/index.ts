import { PeopleYouMayKnowStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { PYMK_MODEL_NAME, PeopleYouMayKnowStack } from './stack';
export type { PeopleYouMayKnowStackProps } from './stack';
export { addPeopleYouMayKnowDatasets } from './datasets';
export * from './figures';

/** Chapter 11: friend suggestions by GNN link prediction, precomputed nightly for every user. */
export const PEOPLE_YOU_MAY_KNOW: BlueprintDefinition = {
  id: 'people-you-may-know',
  stackName: 'MlsdPeopleYouMayKnow',
  namePrefix: 'pymk',
  description: 'mlsd-blueprints: chapter 11, People You May Know (GNN link prediction on graph snapshots, nightly batch precompute into a prediction cache)',
  create: (scope, id, props) => new PeopleYouMayKnowStack(scope, id, props),
};
