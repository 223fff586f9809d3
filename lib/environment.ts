/**
 * A KMS key, a bucket or a lake serves its own account and region only. Given to a construct of
 * another region, it is silently accepted (a grant or key policy names a key that does not exist
 * there, and the service fails at deploy or run time) or fails at synth with aws-cdk-lib's
 * cross-environment reference error, which names neither the construct nor the prop. This check
 * says both, with the two environments.
 */
import { IResource, Resource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

function environmentOf(used: IConstruct): { account: string; region: string } {
  // An imported resource (Key.fromKeyArn) lives where its ARN says, not in the importing stack.
  if (Resource.isResource(used)) {
    const env = (used as IResource).env;
    return { account: env.account, region: env.region };
  }
  const stack = Stack.of(used);
  return { account: stack.account, region: stack.region };
}

const known = (value: string): boolean => !Token.isUnresolved(value);

/**
 * One problem per prop of `used` whose resource is in another account or region than `scope`'s
 * stack, naming the prop, the resource's path and both environments. Environment-agnostic stacks
 * (tokens) are skipped: CloudFormation resolves them to the one environment they deploy to.
 */
export function environmentProblems(scope: IConstruct, used: Readonly<Record<string, IConstruct | undefined>>): string[] {
  const here = Stack.of(scope);
  return Object.entries(used).flatMap(([prop, resource]) => {
    if (resource === undefined) return [];
    const there = environmentOf(resource);
    const region = known(here.region) && known(there.region) && here.region !== there.region;
    const account = known(here.account) && known(there.account) && here.account !== there.account;
    if (!region && !account) return [];
    return [`${prop} must be in this construct's account and region (${here.account}, ${here.region}), but ${resource.node.path} is in ${there.account}, ${there.region}: `
      + 'a key, bucket or lake serves its own account and region only (give this construct one of its own, or deploy it beside the one it uses)'];
  });
}
