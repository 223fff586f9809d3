import { CfnResource } from 'aws-cdk-lib';
import { Json, findByLogicalId, referencedLogicalId, rendered } from './template';

/** What a KMS key reference in a template turns out to be. */
export enum KeyKind {
  /** A key this template defines (or an alias of one), or a literal key ARN/id/alias of the user's. */
  CUSTOMER_MANAGED = 'customer-managed',
  /** An `alias/aws/...` key: AWS owns its policy and rotation. */
  AWS_MANAGED = 'aws-managed',
  /** No key given. */
  ABSENT = 'absent',
  /** A parameter, an import or a computed value: nothing at synth time tells what it is. */
  UNVERIFIABLE = 'unverifiable',
}

const PSEUDO_PARAMETER = /^AWS::/;

/** Joins an `Fn::Join` whose parts are strings or pseudo parameters; undefined when another token remains. */
function literal(value: Json): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (value && typeof value === 'object' && typeof value.Ref === 'string' && PSEUDO_PARAMETER.test(value.Ref)) {
    return value.Ref.replace(/::/g, '_'); // colon-free, so an ARN built from pseudo parameters still parses
  }
  const join = value?.['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map(literal);
    return parts.every((p: string | undefined) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  return undefined;
}

/**
 * Classifies a key reference found in a resource of the same stack as `node`.
 * Fails closed: anything that cannot be traced to a customer key is not one.
 */
export function keyKind(node: CfnResource, value: Json): KeyKind {
  if (value === undefined || value === null || value === '') {
    return KeyKind.ABSENT;
  }
  const target = referencedLogicalId(value);
  if (target !== undefined) {
    const resource = findByLogicalId(node, target);
    const type = resource ? rendered(resource).type : undefined;
    if (type === 'AWS::KMS::Key') {
      return KeyKind.CUSTOMER_MANAGED;
    }
    if (type === 'AWS::KMS::Alias' && resource) {
      return keyKind(resource, rendered(resource).properties.TargetKeyId);
    }
    return KeyKind.UNVERIFIABLE;
  }
  const text = literal(value);
  if (text === undefined) {
    return KeyKind.UNVERIFIABLE;
  }
  if (/(^|:)alias\/aws\//.test(text)) {
    return KeyKind.AWS_MANAGED;
  }
  if (/^arn:[^:]+:kms:[^:]*:[^:]*:(key|alias)\/.+/.test(text) || /^alias\/.+/.test(text) || /^[0-9a-f-]{36}$/i.test(text) || /^mrk-[0-9a-f]{32}$/i.test(text)) {
    return KeyKind.CUSTOMER_MANAGED;
  }
  return KeyKind.UNVERIFIABLE;
}

/** Whether a key reference is a customer-managed key. */
export function isCustomerKey(node: CfnResource, value: Json): boolean {
  return keyKind(node, value) === KeyKind.CUSTOMER_MANAGED;
}
