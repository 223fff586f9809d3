/**
 * botocore's service models (`botocore/data/<service>/<version>/service-2.json[.gz]`, the Smithy
 * models the SDKs are generated from) in the project's `.venv`, where requirements-dev.txt pins
 * botocore, and a check of a request against an operation's input shape: member names, required
 * members, types, enums, lengths, list and map sizes, numeric ranges and patterns.
 *
 * Values may be {@link Unknown}: a value only the run knows (a job's output, a file's content). Of
 * those, only what is known is checked: a string's worst-case length.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { javaRegex } from './java-regex';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Shape {
  readonly type: string;
  readonly members?: Readonly<Record<string, { readonly shape: string }>>;
  readonly required?: readonly string[];
  readonly member?: { readonly shape: string };
  readonly key?: { readonly shape: string };
  readonly value?: { readonly shape: string };
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
  readonly union?: boolean;
  readonly document?: boolean;
}

export interface ServiceModel {
  readonly service: string;
  readonly operations: Readonly<Record<string, { readonly input?: { readonly shape: string }; readonly output?: { readonly shape: string } }>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

/** A value known only at run time; `maxLength` is its worst-case length when it is a string of known bound. */
export class Unknown {
  constructor(
    /** Where it comes from, for the finding (e.g. `DescribeTrainingJob.TrainingJobArn`). */
    public readonly source: string,
    public readonly maxLength?: number,
  ) {}
}

/** `botocore/data` of the project's .venv. */
export function botocoreDataDir(): string {
  const lib = path.join(REPO_ROOT, '.venv', 'lib');
  const python = fs.existsSync(lib) ? fs.readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  const data = python === undefined ? undefined : path.join(lib, python, 'site-packages', 'botocore', 'data');
  if (data === undefined || !fs.existsSync(data)) {
    throw new Error('botocore is not in .venv: run scripts/setup-local.sh (it installs requirements-dev.txt, which pins botocore)');
  }
  return data;
}

const models = new Map<string, ServiceModel>();

/** botocore's model of `service` (its data folder: `sagemaker`, `stepfunctions`, `events`, ...), newest API version. */
export function serviceModel(service: string): ServiceModel {
  let model = models.get(service);
  if (model === undefined) {
    const dir = path.join(botocoreDataDir(), service);
    if (!fs.existsSync(dir)) throw new Error(`botocore has no service model '${service}'`);
    const version = fs.readdirSync(dir).sort().at(-1) as string;
    const file = ['service-2.json.gz', 'service-2.json'].map((f) => path.join(dir, version, f)).find((f) => fs.existsSync(f));
    if (file === undefined) throw new Error(`botocore's ${service} ${version} has no service-2.json`);
    const bytes = fs.readFileSync(file);
    const parsed = JSON.parse((file.endsWith('.gz') ? zlib.gunzipSync(bytes) : bytes).toString('utf8')) as Omit<ServiceModel, 'service'>;
    model = { service, operations: parsed.operations, shapes: parsed.shapes };
    models.set(service, model);
  }
  return model;
}

/** One way a request breaks the model: where (`DataProcessing.OutputFilter`) and what AWS would reject. */
export interface Violation {
  readonly path: string;
  readonly message: string;
}

/** What a check needs to know beside the model. */
export interface CheckOptions {
  /**
   * Member paths (as in {@link Violation.path}, list indexes as `[]`) where Step Functions takes
   * any JSON and serializes it for the API (`Entries[].Detail` of events:putEvents, `Input` of
   * states:startExecution); there the serialized text is checked.
   */
  readonly jsonMembers?: readonly string[];
}

/**
 * Step Functions names every member with a capital first letter (the aws-sdk integrations say so;
 * the optimized ones take the APIs' names, which are capitalized but for camelCase models such as
 * Step Functions' own): a request's `StateMachineArn` is the model's `stateMachineArn`.
 */
export function requestMemberName(modelName: string): string {
  return modelName.charAt(0).toUpperCase() + modelName.slice(1);
}

/** DynamoDB's AttributeValue is a union that predates Smithy's union trait in botocore. */
const UNIONS = new Set(['dynamodb:AttributeValue']);

const length = (text: string) => [...text].length;
const describe = (value: unknown) => (typeof value === 'string' ? `'${value.length > 100 ? `${value.slice(0, 97)}...` : value}'` : JSON.stringify(value));

class Checker {
  readonly violations: Violation[] = [];
  private readonly json: ReadonlySet<string>;

  constructor(private readonly model: ServiceModel, options: CheckOptions) {
    this.json = new Set(options.jsonMembers ?? []);
  }

  check(shapeName: string, value: unknown, at: string, generic: string): void {
    if (value === undefined) return;
    const shape = this.model.shapes[shapeName];
    if (this.json.has(generic) && typeof value !== 'string' && !(value instanceof Unknown)) {
      // Step Functions serializes the JSON; the service checks the text.
      this.check(shapeName, JSON.stringify(value), at, `${generic}#text`);
      return;
    }
    if (value instanceof Unknown) {
      if (shape.type === 'string' && value.maxLength !== undefined && shape.max !== undefined && value.maxLength > shape.max) {
        this.add(at, `may be ${value.maxLength} characters (${value.source}), more than ${shapeName}'s maximum of ${shape.max}`);
      }
      return;
    }
    if (shape.document) return;
    switch (shape.type) {
      case 'structure':
        this.structure(shapeName, shape, value, at, generic);
        return;
      case 'list':
        if (!Array.isArray(value)) {
          this.add(at, `must be a list (${shapeName}), but ${describe(value)} was given`);
          return;
        }
        this.bounds(shapeName, shape, value.length, at, 'item(s)');
        value.forEach((item, i) => this.check(shape.member!.shape, item, `${at}[${i}]`, `${generic}[]`));
        return;
      case 'map': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          this.add(at, `must be a map (${shapeName}), but ${describe(value)} was given`);
          return;
        }
        const entries = Object.entries(value);
        this.bounds(shapeName, shape, entries.length, at, 'entries');
        for (const [k, v] of entries) {
          this.check(shape.key!.shape, k, `${at} key '${k}'`, `${generic}{}`);
          this.check(shape.value!.shape, v, `${at}.${k}`, `${generic}{}`);
        }
        return;
      }
      case 'string':
        this.string(shapeName, shape, value, at);
        return;
      case 'integer':
      case 'long':
        if (typeof value !== 'number' || !Number.isInteger(value)) this.add(at, `must be a whole number (${shapeName}), but ${describe(value)} was given`);
        else this.range(shapeName, shape, value, at);
        return;
      case 'float':
      case 'double':
        if (typeof value !== 'number') this.add(at, `must be a number (${shapeName}), but ${describe(value)} was given`);
        else this.range(shapeName, shape, value, at);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') this.add(at, `must be true or false (${shapeName}), but ${describe(value)} was given`);
        return;
      case 'timestamp':
        // Step Functions passes timestamps as ISO-8601 text (or epoch seconds).
        if (!(typeof value === 'number' || (typeof value === 'string' && !Number.isNaN(Date.parse(value))))) {
          this.add(at, `must be a timestamp (${shapeName}), but ${describe(value)} was given`);
        }
        return;
      case 'blob':
        if (typeof value !== 'string') this.add(at, `must be text (${shapeName}, a blob), but ${describe(value)} was given`);
        else this.bounds(shapeName, shape, Buffer.byteLength(value), at, 'byte(s)');
        return;
      default:
        throw new Error(`botocore: shape type ${shape.type} (${shapeName}) is not checked`);
    }
  }

  private structure(shapeName: string, shape: Shape, value: unknown, at: string, generic: string): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.add(at, `must be a structure (${shapeName}), but ${describe(value)} was given`);
      return;
    }
    const record = value as Record<string, unknown>;
    const byRequestName = new Map(Object.keys(shape.members ?? {}).map((m) => [requestMemberName(m), m]));
    const join = (name: string) => (at === '' ? name : `${at}.${name}`);
    for (const name of shape.required ?? []) {
      if (record[requestMemberName(name)] === undefined) this.add(join(requestMemberName(name)), `is required by ${shapeName} but missing`);
    }
    const present = Object.keys(record).filter((k) => record[k] !== undefined);
    if ((shape.union || UNIONS.has(`${this.model.service}:${shapeName}`)) && present.length !== 1) {
      this.add(at, `must set exactly one member of ${shapeName} (a union), but ${present.length} were given (${present.join(', ') || 'none'})`);
    }
    for (const name of present) {
      const member = byRequestName.get(name);
      if (member === undefined) {
        const hint = byRequestName.has(requestMemberName(name)) ? ` (Step Functions names it ${requestMemberName(name)})` : '';
        this.add(join(name), `is not a member of ${shapeName}${hint}`);
        continue;
      }
      this.check(shape.members![member].shape, record[name], join(name), generic === '' ? name : `${generic}.${name}`);
    }
  }

  private string(shapeName: string, shape: Shape, value: unknown, at: string): void {
    if (typeof value !== 'string') {
      this.add(at, `must be a string (${shapeName}), but ${describe(value)} was given`);
      return;
    }
    const size = length(value);
    if (shape.max !== undefined && size > shape.max) this.add(at, `is ${size} characters, more than ${shapeName}'s maximum of ${shape.max}: ${describe(value)}`);
    if (shape.min !== undefined && size < shape.min) this.add(at, `is ${size} characters, fewer than ${shapeName}'s minimum of ${shape.min}`);
    if (shape.enum !== undefined && !shape.enum.includes(value)) this.add(at, `${describe(value)} is not one of ${shapeName}'s values (${shape.enum.join(', ')})`);
    if (shape.pattern !== undefined && !javaRegex(shape.pattern).test(value)) {
      this.add(at, `${describe(value)} does not match ${shapeName}'s pattern ${shape.pattern}`);
    }
  }

  private bounds(shapeName: string, shape: Shape, size: number, at: string, unit: string): void {
    if (shape.max !== undefined && size > shape.max) this.add(at, `has ${size} ${unit}, more than ${shapeName}'s maximum of ${shape.max}`);
    if (shape.min !== undefined && size < shape.min) this.add(at, `has ${size} ${unit}, fewer than ${shapeName}'s minimum of ${shape.min}`);
  }

  private range(shapeName: string, shape: Shape, value: number, at: string): void {
    if (shape.max !== undefined && value > shape.max) this.add(at, `is ${value}, more than ${shapeName}'s maximum of ${shape.max}`);
    if (shape.min !== undefined && value < shape.min) this.add(at, `is ${value}, less than ${shapeName}'s minimum of ${shape.min}`);
  }

  private add(at: string, message: string): void {
    this.violations.push({ path: at === '' ? '(request)' : at, message });
  }
}

/** Every way `request` breaks the input shape of `operation` (e.g. `CreateTransformJob`) of `service`; empty when AWS would take it. */
export function checkRequest(service: string, operation: string, request: unknown, options: CheckOptions = {}): Violation[] {
  const model = serviceModel(service);
  const op = model.operations[operation];
  if (op === undefined) throw new Error(`botocore: ${service} has no operation ${operation}`);
  const checker = new Checker(model, options);
  if (op.input !== undefined) checker.check(op.input.shape, request, '', '');
  return checker.violations;
}
