import { CfnElement, CfnResource, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Json, rendered } from './template';

/**
 * What a template value points at across the whole app, the way CloudFormation will resolve it:
 * a data stack and an ML stack (cross-stack references), nested stacks (parameters and outputs)
 * and exports read by name. Rules that ask "does this policy reach that store" must follow them,
 * or a second stack is a way past the gate.
 */
export interface References {
  /** The resources the value names, in whatever stack they live. */
  readonly resources: ReadonlySet<CfnResource>;
  /**
   * The value holds a reference the app cannot answer (a parameter given at deploy time, an export
   * or stack output of another app): rules fail closed on it.
   */
  readonly unknown: boolean;
}

const PSEUDO = /^AWS::/;

/** One stack's template elements, rendered once. */
interface StackElements {
  readonly resources: Map<string, CfnResource>;
  /** Output logical id → its Value and export name. */
  readonly outputs: Map<string, { value: Json; exportName?: string }>;
  readonly parameters: Set<string>;
}

const ELEMENTS = new WeakMap<Stack, StackElements>();
const APP_RESOURCES = new WeakMap<IConstruct, CfnResource[]>();

function elementsOf(stack: Stack): StackElements {
  const cached = ELEMENTS.get(stack);
  if (cached) {
    return cached;
  }
  const result: StackElements = { resources: new Map(), outputs: new Map(), parameters: new Set() };
  for (const element of stack.node.findAll()) {
    if (!CfnElement.isCfnElement(element) || Stack.of(element) !== stack) {
      continue;
    }
    if (CfnResource.isCfnResource(element)) {
      result.resources.set(rendered(element).logicalId, element);
      continue;
    }
    // Outputs and parameters render as their own template sections: read them as CloudFormation will.
    const fragment = stack.resolve((element as unknown as { _toCloudFormation(): Json })._toCloudFormation());
    for (const [id, output] of Object.entries<Json>(fragment?.Outputs ?? {})) {
      result.outputs.set(id, { value: output.Value, exportName: typeof output.Export?.Name === 'string' ? output.Export.Name : undefined });
    }
    for (const id of Object.keys(fragment?.Parameters ?? {})) {
      result.parameters.add(id);
    }
  }
  ELEMENTS.set(stack, result);
  return result;
}

/** Every stack of the app that holds `scope`, nested stacks included. */
function appStacks(scope: IConstruct): Stack[] {
  return scope.node.root.node.findAll().filter((c): c is Stack => Stack.isStack(c));
}

/** Every resource of the app that holds `scope`: all its stacks, nested stacks included. */
export function appResources(scope: IConstruct): CfnResource[] {
  const root = scope.node.root;
  const cached = APP_RESOURCES.get(root);
  if (cached) {
    return cached;
  }
  const resources = appStacks(root).flatMap((stack) => [...elementsOf(stack).resources.values()]);
  APP_RESOURCES.set(root, resources);
  return resources;
}

/** The nested stack whose `AWS::CloudFormation::Stack` resource is `resource`, if any. */
function nestedStackOf(resource: CfnResource): Stack | undefined {
  return appStacks(resource).find((s) => s.nested && s.nestedStackResource === resource);
}

/** Where a resource sits in findings: its logical id, with its stack's name when it is not `from`'s stack. */
export function qualifiedId(resource: CfnResource, from: IConstruct): string {
  const stack = Stack.of(resource);
  return stack === Stack.of(from) ? rendered(resource).logicalId : `${stack.stackName}/${rendered(resource).logicalId}`;
}

/** The resources (in any stack of the app) that a template value of `from`'s stack references. */
export function referencesIn(value: Json, from: IConstruct): References {
  const resources = new Set<CfnResource>();
  let unknown = false;
  // An output's value may itself come from another stack: walk with the stack each value lives in, once each.
  const seen = new Set<Json>();

  const output = (stack: Stack | undefined, id: string): void => {
    const found = stack === undefined ? undefined : elementsOf(stack).outputs.get(id);
    if (stack === undefined || found === undefined) {
      unknown = true;
      return;
    }
    walk(found.value, stack);
  };

  const logicalId = (id: string, attribute: string | undefined, stack: Stack): void => {
    if (PSEUDO.test(id)) {
      return;
    }
    const elements = elementsOf(stack);
    const resource = elements.resources.get(id);
    if (resource !== undefined) {
      const nested = rendered(resource).type === 'AWS::CloudFormation::Stack' && attribute?.startsWith('Outputs.') ? nestedStackOf(resource) : undefined;
      if (nested !== undefined) {
        output(nested, attribute!.slice('Outputs.'.length));
      } else {
        resources.add(resource);
      }
      return;
    }
    if (elements.parameters.has(id) && stack.nested && stack.nestedStackResource !== undefined) {
      // A nested stack's parameter is what its parent passes in.
      const parent = Stack.of(stack.nestedStackResource);
      const passed = rendered(stack.nestedStackResource).properties.Parameters?.[id];
      if (passed !== undefined) {
        walk(passed, parent);
        return;
      }
    }
    unknown = true;
  };

  const walk = (v: Json, stack: Stack): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) {
      return;
    }
    seen.add(v);
    if (Array.isArray(v)) {
      v.forEach((item) => walk(item, stack));
      return;
    }
    if (typeof v.Ref === 'string') {
      logicalId(v.Ref, undefined, stack);
      return;
    }
    const getAtt = v['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
      logicalId(getAtt[0], typeof getAtt[1] === 'string' ? getAtt[1] : undefined, stack);
      return;
    }
    const stackOutput = v['Fn::GetStackOutput'];
    if (stackOutput && typeof stackOutput === 'object') {
      const target = appStacks(stack).find((s) => s.stackName === stackOutput.StackName
        && (typeof stackOutput.Region !== 'string' || s.resolve(s.region) === stackOutput.Region || !/^[a-z0-9-]+$/.test(String(s.resolve(s.region)))));
      output(target, String(stackOutput.OutputName));
      return;
    }
    const imported = v['Fn::ImportValue'];
    if (imported !== undefined) {
      const target = typeof imported === 'string'
        ? appStacks(stack).find((s) => [...elementsOf(s).outputs.values()].some((o) => o.exportName === imported))
        : undefined;
      const id = target === undefined ? undefined : [...elementsOf(target).outputs.entries()].find(([, o]) => o.exportName === imported)![0];
      output(target, id ?? '');
      return;
    }
    const sub = v['Fn::Sub'];
    if (sub !== undefined) {
      // `${Name}` and `${Name.Attribute}` in the text reference resources; a variable map may hold more.
      const [text, variables] = Array.isArray(sub) ? sub : [sub, {}];
      const local = new Set(Object.keys(variables ?? {}));
      for (const match of String(text).matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const [name, ...attribute] = match[1].split('.');
        if (!local.has(match[1])) {
          logicalId(name, attribute.length > 0 ? attribute.join('.') : undefined, stack);
        }
      }
      walk(variables, stack);
      return;
    }
    Object.values(v).forEach((item) => walk(item, stack));
  };

  walk(value, Stack.of(from));
  return { resources, unknown };
}
