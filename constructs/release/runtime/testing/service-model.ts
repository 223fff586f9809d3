/**
 * Checks a request against the AWS service model: required members, unknown members (the SDK
 * drops them silently), enum values, name patterns and lengths, numeric ranges. The models are
 * botocore's JSON (the same Smithy models the JavaScript SDK is generated from), loaded from
 * `.venv` by the Step Functions request checks' loader (test/support/requests/botocore.ts). This
 * check reads SDK inputs (Date timestamps, no run-time unknowns); that one reads task requests.
 */
import { ServiceModel, serviceModel } from '../../../../test/support/requests/botocore';

function compile(pattern: string): RegExp | null {
  for (const flags of ['u', '']) {
    try {
      return new RegExp(`^(?:${pattern})$`, flags);
    } catch {
      // Java syntax JavaScript does not take in this mode; try the other.
    }
  }
  return null;
}

function check(model: ServiceModel, shapeName: string, value: unknown, at: string, problems: string[]): void {
  if (value === undefined) return;
  const shape = model.shapes[shapeName];
  const bounds = (size: number, what: string) => {
    if (shape.min !== undefined && size < shape.min) problems.push(`${at}: ${what} ${size} < min ${shape.min}`);
    if (shape.max !== undefined && size > shape.max) problems.push(`${at}: ${what} ${size} > max ${shape.max}`);
  };
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push(`${at}: expected a structure (${shapeName})`);
        return;
      }
      const record = value as Record<string, unknown>;
      for (const name of shape.required ?? []) {
        if (record[name] === undefined) problems.push(`${at}.${name}: required by ${shapeName}`);
      }
      for (const [name, member] of Object.entries(record)) {
        const definition = shape.members?.[name];
        if (definition === undefined) {
          if (member !== undefined) problems.push(`${at}.${name}: not a member of ${shapeName}`);
          continue;
        }
        check(model, definition.shape, member, `${at}.${name}`, problems);
      }
      return;
    }
    case 'list':
      if (!Array.isArray(value)) {
        problems.push(`${at}: expected a list (${shapeName})`);
        return;
      }
      bounds(value.length, 'length');
      value.forEach((item, i) => check(model, shape.member?.shape as string, item, `${at}[${i}]`, problems));
      return;
    case 'map': {
      if (typeof value !== 'object' || value === null) {
        problems.push(`${at}: expected a map (${shapeName})`);
        return;
      }
      const entries = Object.entries(value as Record<string, unknown>);
      bounds(entries.length, 'entries');
      for (const [k, v] of entries) {
        check(model, shape.key?.shape as string, k, `${at} key ${k}`, problems);
        check(model, shape.value?.shape as string, v, `${at}.${k}`, problems);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') {
        problems.push(`${at}: expected a string (${shapeName})`);
        return;
      }
      bounds(value.length, 'length');
      if (shape.enum !== undefined && !shape.enum.includes(value)) problems.push(`${at}: '${value}' is not one of ${shapeName}'s values`);
      const pattern = shape.pattern === undefined ? null : compile(shape.pattern);
      if (pattern !== null && !pattern.test(value)) problems.push(`${at}: '${value}' does not match ${shapeName}'s pattern ${shape.pattern}`);
      return;
    }
    case 'integer':
    case 'long':
      if (typeof value !== 'number' || !Number.isInteger(value)) problems.push(`${at}: expected a whole number (${shapeName})`);
      else bounds(value, 'value');
      return;
    case 'float':
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) problems.push(`${at}: expected a number (${shapeName})`);
      else bounds(value, 'value');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${at}: expected true or false (${shapeName})`);
      return;
    case 'timestamp':
      if (!(value instanceof Date)) problems.push(`${at}: expected a Date (${shapeName})`);
      return;
    default:
      return;
  }
}

/** Every way `input` breaks the model of `operation` (e.g. `CreateModel`); empty when it conforms. */
export function serviceModelProblems(service: string, operation: string, input: unknown): string[] {
  const model = serviceModel(service);
  const op = model.operations[operation];
  if (op === undefined) throw new Error(`${service} has no operation ${operation}`);
  const problems: string[] = [];
  if (op.input !== undefined) check(model, op.input.shape, input, operation, problems);
  return problems;
}
