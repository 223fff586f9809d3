import { Stack, Token } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { allowedRegions } from '../../regions';
import { GdprRule } from '../rule';
import { stackResources } from '../template';

export const RegionResidency: GdprRule = {
  name: 'RegionResidency',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['*'],
  info: 'The stack\'s region is unknown at synth time or outside the EU/EEA allow-list; the finding names the region. Fix: give the stack an explicit EU/EEA region (`-c region=eu-central-1`), or extend the allow-list deliberately with `-c extraRegions=<region>`.',
  explanation: 'Transfers of personal data outside the EEA need a legal basis (GDPR chapter V); pinning every stack to an allow-listed region keeps data where the controller decided.',
  check: (node) => {
    // One finding per stack, anchored on its first resource, instead of one per resource.
    if (stackResources(node)[0] !== node) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const region = Stack.of(node).region;
    if (Token.isUnresolved(region)) {
      return ['region:unresolved'];
    }
    return allowedRegions(node).includes(region) ? NagRuleCompliance.COMPLIANT : [`region:${region}`];
  },
};
