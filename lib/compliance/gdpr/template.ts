import { CfnResource, Stack } from 'aws-cdk-lib';

/**
 * Reading a resource the way CloudFormation will see it.
 *
 * Rules read the rendered template fragment instead of typed L1 properties: it includes
 * tags applied through `Tags.of`, escape-hatch overrides (`addPropertyOverride`) and
 * CDK's own singleton resources that are plain `CfnResource`s, and it survives a second
 * copy of aws-cdk-lib in node_modules, which breaks `instanceof`.
 */

/** A JSON value as it appears in a resolved template. */
export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The resolved template entry of one resource: Type, Properties, and the rest. */
export interface RenderedResource {
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, Json>;
  /** The resource's template Metadata (classification records such as `mlsd:table-maintenance`), if any. */
  readonly metadata?: Record<string, Json>;
  /** The name of the CloudFormation Condition that decides whether the resource is created at all, if any. */
  readonly condition?: string;
}

const RENDERED = new WeakMap<CfnResource, RenderedResource>();

/** The resource as it will be written to the template, with every token resolved. */
export function rendered(node: CfnResource): RenderedResource {
  const cached = RENDERED.get(node);
  if (cached) {
    return cached;
  }
  const stack = Stack.of(node);
  // _toCloudFormation is what synthesis itself calls; it is the only view that includes overrides.
  const fragment = stack.resolve((node as unknown as { _toCloudFormation(): Json })._toCloudFormation());
  const [logicalId, entry] = Object.entries<Json>(fragment.Resources)[0];
  const result = { logicalId, type: entry.Type, properties: entry.Properties ?? {}, metadata: entry.Metadata, condition: entry.Condition };
  RENDERED.set(node, result);
  return result;
}

/** Shorthand for the resolved Properties of a resource. */
export function props(node: CfnResource): Record<string, Json> {
  return rendered(node).properties;
}

/** Every resource of the stack that holds `node` (nested stacks excluded). */
export function stackResources(node: CfnResource): CfnResource[] {
  const stack = Stack.of(node);
  return stack.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === stack);
}

/**
 * Whether the resource is created whatever the parameters: a resource-level Condition may leave it
 * out, so a rule must not count a conditional resource as the protection it looks for (a TLS-only
 * bucket policy, a schedule).
 */
export function alwaysCreated(node: CfnResource): boolean {
  return rendered(node).condition === undefined;
}

/** The resource with this logical id in the stack that holds `node`. */
export function findByLogicalId(node: CfnResource, logicalId: string): CfnResource | undefined {
  return stackResources(node).find((r) => rendered(r).logicalId === logicalId);
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, if the value is one. */
export function referencedLogicalId(value: Json): string | undefined {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    if (typeof value.Ref === 'string') {
      return value.Ref;
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
      return getAtt[0];
    }
  }
  return undefined;
}

/** Every logical id referenced anywhere inside a value. */
export function referencedLogicalIds(value: Json): Set<string> {
  const ids = new Set<string>();
  const walk = (v: Json): void => {
    const id = referencedLogicalId(v);
    if (id) {
      ids.add(id);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v && typeof v === 'object') {
      Object.values(v).forEach(walk);
    }
  };
  walk(value);
  return ids;
}

/** Tags of a resource as a map, whichever shape its type uses (list of Key/Value or map). */
export function tagsOf(properties: Record<string, Json>): Record<string, string> {
  const tags = properties.Tags;
  if (Array.isArray(tags)) {
    return Object.fromEntries(tags.filter((t) => t && typeof t.Key === 'string').map((t) => [t.Key, String(t.Value)]));
  }
  if (tags && typeof tags === 'object') {
    return Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)]));
  }
  return {};
}

/** Whether a value is literally `true` (CloudFormation also accepts the string 'true'). */
export function isTrue(value: Json): boolean {
  return value === true || value === 'true';
}

/** A value as a list: CloudFormation lets a single item stand where a list is expected in policies. */
export function asList<T = Json>(value: T | T[] | undefined): T[] {
  if (value === undefined || value === null) {
    return [];
  }
  return Array.isArray(value) ? value : [value];
}
