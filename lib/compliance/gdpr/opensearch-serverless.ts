import { CfnResource } from 'aws-cdk-lib';
import { Json, props, rendered, stackResources } from './template';

/**
 * Reading OpenSearch Serverless security policies, whose `Policy` is a JSON document held in a
 * string. CDK renders a document that embeds tokens (a key ARN, a name) as an `Fn::Join`: the
 * tokens are swapped for placeholders so that the document can be parsed, and swapped back
 * (`restore`) where a value such as a KMS ARN must be classified.
 */

export const SECURITY_POLICY_TYPE = 'AWS::OpenSearchServerless::SecurityPolicy';

const PLACEHOLDER = /@@cfn-token-(\d+)@@/g;

function placeholder(index: number): string {
  return `@@cfn-token-${index}@@`;
}

function hasPlaceholder(text: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(text);
}

/** A parsed policy document, with the way back from placeholders to the template values. */
export interface ParsedPolicy {
  readonly document: Json;
  /** The template value a parsed string stands for: the token itself, or an `Fn::Join` of literal and tokens. */
  readonly restore: (value: Json) => Json;
}

/** Parses a resolved `Policy` (a string or an `Fn::Join`); undefined when it is not readable JSON. */
export function parsePolicy(value: Json): ParsedPolicy | undefined {
  const tokens: Json[] = [];
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else {
    const join = value?.['Fn::Join'];
    if (!Array.isArray(join) || typeof join[0] !== 'string' || !Array.isArray(join[1])) {
      return undefined;
    }
    text = join[1].map((part: Json) => {
      if (typeof part === 'string') {
        return part;
      }
      tokens.push(part);
      return placeholder(tokens.length - 1);
    }).join(join[0]);
  }
  let document: Json;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  const restore = (v: Json): Json => {
    if (typeof v !== 'string' || !hasPlaceholder(v)) {
      return v;
    }
    const parts = v.split(new RegExp(PLACEHOLDER.source)).map((piece, i) => (i % 2 === 1 ? tokens[Number(piece)] : piece)).filter((p) => p !== '');
    return parts.length === 1 ? parts[0] : { 'Fn::Join': ['', parts] };
  };
  return { document, restore };
}

/** Whether a policy resource pattern covers a resource: definitely, not at all, or unknowably (a token in the pattern). */
export type Match = 'yes' | 'no' | 'maybe';

/** Matches a pattern such as `collection/logs` or `collection/logs*` against `collection/<name>`. */
export function matchPattern(pattern: Json, resource: string): Match {
  if (typeof pattern !== 'string') {
    return 'maybe';
  }
  if (hasPlaceholder(pattern)) {
    return 'maybe';
  }
  const escaped = pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${escaped}$`).test(resource) ? 'yes' : 'no';
}

/** The strongest match of any pattern in `patterns`. */
export function bestMatch(matches: Match[]): Match {
  if (matches.includes('yes')) {
    return 'yes';
  }
  return matches.includes('maybe') ? 'maybe' : 'no';
}

/** A security policy of the stack, as far as it can be read. */
export interface SecurityPolicy {
  readonly node: CfnResource;
  /** `encryption`, `network`, or undefined when the type is not a literal. */
  readonly type: string | undefined;
  /** Undefined when the document cannot be parsed. */
  readonly parsed: ParsedPolicy | undefined;
}

/** Reads a security policy resource. */
export function readSecurityPolicy(node: CfnResource): SecurityPolicy {
  const p = props(node);
  return { node, type: typeof p.Type === 'string' ? p.Type : undefined, parsed: parsePolicy(p.Policy) };
}

/** Every security policy in the stack that holds `node`. */
export function stackSecurityPolicies(node: CfnResource): SecurityPolicy[] {
  return stackResources(node).filter((r) => rendered(r).type === SECURITY_POLICY_TYPE).map(readSecurityPolicy);
}
