/**
 * Step Functions' JSONPath payload templates (`"Key.$": "$.path"`, `"Name.$": "States.Format(...)"`)
 * evaluated over worst-case values, the way the service evaluates them before it calls AWS.
 *
 * A {@link Value} is JSON, an {@link Unknown} (known only at run time), or an object marked
 * {@link OPEN} (its listed fields are known, others may exist: after a state that adds fields no
 * one can list). A path into an Unknown or a missing field of an open object is Unknown; a missing
 * field of a closed object is the run-time error `States.Runtime` that Step Functions would raise.
 */
import * as crypto from 'crypto';
import { Unknown } from './botocore';

/** Marks an object whose other fields are not known. */
export const OPEN: unique symbol = Symbol('open');

export type Value = null | boolean | number | string | Unknown | Value[] | ValueObject;
export interface ValueObject {
  [key: string]: Value;
  [OPEN]?: true;
}

/** Why Step Functions would fail the state before calling AWS (a path that matches nothing, a malformed intrinsic). */
export class EvaluationError extends Error {}

export const isObject = (v: Value | undefined): v is ValueObject => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Unknown);

// JSONPath ------------------------------------------------------------------------------------

type Segment =
  | { kind: 'name'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'slice'; start?: number; end?: number }
  | { kind: 'wildcard' }
  | { kind: 'filter'; text: string; keep: (item: Value) => boolean };

const COMPARISONS: Readonly<Record<string, (a: number | string, b: number | string) => boolean>> = {
  '==': (a, b) => a === b, '!=': (a, b) => a !== b, '<=': (a, b) => a <= b, '>=': (a, b) => a >= b, '<': (a, b) => a < b, '>': (a, b) => a > b,
};

/**
 * A filter's test of one item (`@.status == 'failed'`, `@.count > 2`, `@.key`; `&&` and `||` of
 * those). An item whose field is known only at run time is kept: it may match.
 */
function filterTest(text: string, expression: string): (item: Value) => boolean {
  const or = text.split('||').map((part) => part.split('&&').map((term) => {
    const m = /^\s*@((?:\.[A-Za-z0-9_]+|\['[^']*'\])*)\s*(?:(==|!=|<=|>=|<|>)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null))?\s*$/.exec(term);
    if (m === null) throw new EvaluationError(`unsupported JSONPath filter '${text}' in '${expression}'`);
    const [, field, op, literal] = m;
    const expected = literal === undefined ? undefined : /^['"]/.test(literal) ? literal.slice(1, -1).replace(/\\(.)/g, '$1') : JSON.parse(literal) as Value;
    return (item: Value): boolean => {
      let value: Value;
      try {
        value = evaluatePath(`$${field}`, item, null);
      } catch (error) {
        if (error instanceof EvaluationError) return false;
        throw error;
      }
      if (value instanceof Unknown) return true;
      if (op === undefined) return true;
      if ((typeof value === 'number' || typeof value === 'string') && (typeof expected === 'number' || typeof expected === 'string')) return COMPARISONS[op](value, expected);
      return op === '==' ? equal(value, expected as Value) : op === '!=' ? !equal(value, expected as Value) : false;
    };
  }));
  return (item) => or.some((and) => and.every((test) => test(item)));
}

/** `$.a['b'][0][-1:][*]` into its root and segments (the JSONPath Step Functions' reference paths use). */
export function parsePath(expression: string): { root: '$' | '$$'; segments: Segment[] } {
  const root = expression.startsWith('$$') ? '$$' : '$';
  if (!expression.startsWith('$')) throw new EvaluationError(`'${expression}' is not a path`);
  const segments: Segment[] = [];
  let i = root.length;
  while (i < expression.length) {
    const rest = expression.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\.\*/.exec(rest)) || (m = /^\[\*\]/.exec(rest))) {
      segments.push({ kind: 'wildcard' });
    } else if ((m = /^\.([^.[\]]+)/.exec(rest))) {
      segments.push({ kind: 'name', name: m[1] });
    } else if ((m = /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest)) || (m = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest))) {
      segments.push({ kind: 'name', name: m[1].replace(/\\(.)/g, '$1') });
    } else if ((m = /^\[\?\((.*?)\)\]/.exec(rest))) {
      segments.push({ kind: 'filter', text: m[1], keep: filterTest(m[1], expression) });
    } else if ((m = /^\[(-?\d+)\]/.exec(rest))) {
      segments.push({ kind: 'index', index: Number(m[1]) });
    } else if ((m = /^\[(-?\d+)?:(-?\d+)?\]/.exec(rest))) {
      segments.push({ kind: 'slice', start: m[1] === undefined ? undefined : Number(m[1]), end: m[2] === undefined ? undefined : Number(m[2]) });
    } else {
      throw new EvaluationError(`unsupported JSONPath '${expression}' at '${rest}'`);
    }
    i += m[0].length;
  }
  return { root, segments };
}

function step(node: Value, segment: Segment, where: string): Value[] | Value {
  if (node instanceof Unknown) return new Unknown(`${where}, from ${node.source}`);
  switch (segment.kind) {
    case 'name':
      if (!isObject(node)) throw new EvaluationError(`${where}: ${JSON.stringify(node)} has no field '${segment.name}'`);
      if (segment.name in node) return node[segment.name];
      if (node[OPEN]) return new Unknown(where);
      throw new EvaluationError(`${where} matches nothing (the input has ${Object.keys(node).join(', ') || 'no fields'})`);
    case 'index': {
      if (!Array.isArray(node)) throw new EvaluationError(`${where}: ${JSON.stringify(node)} is not a list`);
      const item = node[segment.index < 0 ? node.length + segment.index : segment.index];
      if (item === undefined) throw new EvaluationError(`${where} matches nothing (the list has ${node.length} item(s))`);
      return item;
    }
    case 'slice':
      if (!Array.isArray(node)) throw new EvaluationError(`${where}: ${JSON.stringify(node)} is not a list`);
      return node.slice(segment.start, segment.end);
    case 'filter':
      if (!Array.isArray(node)) throw new EvaluationError(`${where}: ${JSON.stringify(node)} is not a list`);
      return node.filter(segment.keep);
    case 'wildcard':
      if (Array.isArray(node)) return node;
      if (isObject(node)) return node[OPEN] ? new Unknown(where) : Object.values(node);
      throw new EvaluationError(`${where}: ${JSON.stringify(node)} has no items`);
  }
}

const segmentText = (s: Segment) => (s.kind === 'name' ? `.${s.name}` : s.kind === 'index' ? `[${s.index}]` : s.kind === 'wildcard' ? '[*]'
  : s.kind === 'filter' ? `[?(${s.text})]` : `[${s.start ?? ''}:${s.end ?? ''}]`);
/** Segments that select several items (the path's value is then a list). */
const selects = (s: Segment) => s.kind === 'wildcard' || s.kind === 'slice' || s.kind === 'filter';

/** The value at `expression` of `input` (`$`) or `context` (`$$`). */
export function evaluatePath(expression: string, input: Value, context: Value): Value {
  const { root, segments } = parsePath(expression);
  let node: Value = root === '$$' ? context : input;
  // After a wildcard or a slice the path selects a list, and goes on in each item.
  let many = false;
  let where = root;
  for (const segment of segments) {
    where += segmentText(segment);
    if (many && Array.isArray(node)) {
      // Items that do not match are left out, as JSONPath does.
      const selected: Value[] = [];
      for (const item of node) {
        try {
          const r = step(item, segment, where);
          if (selects(segment) && Array.isArray(r)) selected.push(...r);
          else selected.push(r as Value);
        } catch (error) {
          if (!(error instanceof EvaluationError)) throw error;
        }
      }
      node = selected;
      continue;
    }
    node = step(node, segment, where) as Value;
    if (selects(segment)) many = true;
  }
  return node;
}

// Intrinsic functions ---------------------------------------------------------------------

type Expr =
  | { kind: 'string'; raw: string; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'literal'; value: null | boolean }
  | { kind: 'path'; path: string }
  | { kind: 'call'; name: string; args: Expr[] };

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): Expr {
    const expr = this.expression();
    this.space();
    if (this.i !== this.text.length) throw new EvaluationError(`unexpected '${this.text.slice(this.i, this.i + 20)}' in ${this.text.slice(0, 80)}`);
    return expr;
  }

  private space(): void {
    while (this.text[this.i] === ' ') this.i += 1;
  }

  private expression(): Expr {
    this.space();
    const rest = this.text.slice(this.i);
    if (rest.startsWith("'")) return this.string();
    if (rest.startsWith('$')) return this.path();
    let m: RegExpExecArray | null;
    if ((m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(rest))) {
      this.i += m[0].length;
      return { kind: 'number', value: Number(m[0]) };
    }
    if ((m = /^(null|true|false)\b/.exec(rest))) {
      this.i += m[0].length;
      return { kind: 'literal', value: m[1] === 'null' ? null : m[1] === 'true' };
    }
    if ((m = /^(States\.[A-Za-z0-9]+)\(/.exec(rest))) {
      this.i += m[0].length;
      const args: Expr[] = [];
      this.space();
      if (this.text[this.i] === ')') {
        this.i += 1;
        return { kind: 'call', name: m[1], args };
      }
      for (;;) {
        args.push(this.expression());
        this.space();
        const c = this.text[this.i];
        this.i += 1;
        if (c === ')') return { kind: 'call', name: m[1], args };
        if (c !== ',') throw new EvaluationError(`expected ',' or ')' after an argument of ${m[1]}, at '${this.text.slice(this.i - 1, this.i + 20)}'`);
      }
    }
    throw new EvaluationError(`not a path, literal or intrinsic function: '${rest.slice(0, 40)}'`);
  }

  /** A single-quoted literal, in which `\'`, `\{`, `\}` and `\\` are escapes; `raw` keeps them (States.Format reads its slots from it). */
  private string(): Expr {
    let raw = '';
    this.i += 1;
    while (this.i < this.text.length) {
      const c = this.text[this.i];
      if (c === '\\') {
        raw += c + (this.text[this.i + 1] ?? '');
        this.i += 2;
        continue;
      }
      this.i += 1;
      if (c === "'") return { kind: 'string', raw, value: raw.replace(/\\(.)/g, '$1') };
      raw += c;
    }
    throw new EvaluationError(`unterminated string literal in ${this.text.slice(0, 80)}`);
  }

  /** A path argument: up to the next `,` or `)` outside brackets and quotes. */
  private path(): Expr {
    const start = this.i;
    let depth = 0;
    let quote: string | undefined;
    while (this.i < this.text.length) {
      const c = this.text[this.i];
      if (quote !== undefined) {
        if (c === '\\') this.i += 1;
        else if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') {
        quote = c;
      } else if (c === '[') {
        depth += 1;
      } else if (c === ']') {
        depth -= 1;
      } else if (depth === 0 && (c === ',' || c === ')')) {
        break;
      }
      this.i += 1;
    }
    return { kind: 'path', path: this.text.slice(start, this.i).trim() };
  }
}

/** Step Functions' text of a value in States.Format (strings as they are, other values as JSON). */
function formatted(value: Value, fn: string): string | Unknown {
  if (value instanceof Unknown) return value;
  if (typeof value === 'string') return value;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new EvaluationError(`${fn}: an argument is ${Array.isArray(value) ? 'a list' : 'an object'}, which States.Format does not take`);
}

const HASHES: Readonly<Record<string, string>> = { 'MD5': 'md5', 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** Joins text parts; Unknown parts make the whole Unknown, of the summed worst-case length when each part has one. */
function concatenate(parts: (string | Unknown)[], source: string): string | Unknown {
  if (parts.every((p): p is string => typeof p === 'string')) return parts.join('');
  const lengths = parts.map((p) => (typeof p === 'string' ? [...p].length : p.maxLength));
  const unknown = parts.filter((p): p is Unknown => p instanceof Unknown).map((p) => p.source);
  const total = lengths.every((l): l is number => l !== undefined) ? lengths.reduce((a, b) => a + b, 0) : undefined;
  return new Unknown(`${source} of ${unknown.join(', ')}`, total);
}

function call(name: string, args: Value[], raw: Expr[]): Value {
  const arity = (n: number) => {
    if (args.length !== n) throw new EvaluationError(`${name} takes ${n} argument(s), but ${args.length} were given`);
  };
  const unknownIn = args.find((a): a is Unknown => a instanceof Unknown);
  switch (name) {
    case 'States.Format': {
      const template = raw[0]?.kind === 'string' ? raw[0].raw : typeof args[0] === 'string' ? args[0].replace(/[\\'{}]/g, (c) => `\\${c}`) : undefined;
      if (template === undefined) {
        if (args[0] instanceof Unknown) return new Unknown(`States.Format of ${args[0].source}`);
        throw new EvaluationError('States.Format: the template must be a string');
      }
      // Slots are the unescaped `{}`; escaped characters are literal text.
      const pieces: string[] = [''];
      for (let i = 0; i < template.length; i += 1) {
        if (template[i] === '\\') {
          pieces[pieces.length - 1] += template[i + 1] ?? '';
          i += 1;
        } else if (template[i] === '{' && template[i + 1] === '}') {
          pieces.push('');
          i += 1;
        } else {
          pieces[pieces.length - 1] += template[i];
        }
      }
      if (pieces.length - 1 !== args.length - 1) {
        throw new EvaluationError(`States.Format: ${pieces.length - 1} slot(s) in the template but ${args.length - 1} argument(s)`);
      }
      const parts: (string | Unknown)[] = [pieces[0]];
      args.slice(1).forEach((arg, i) => parts.push(formatted(arg, name), pieces[i + 1]));
      return concatenate(parts, 'States.Format');
    }
    case 'States.Array':
      return args;
    case 'States.StringToJson':
      arity(1);
      if (unknownIn) return new Unknown(`States.StringToJson of ${unknownIn.source}`);
      if (typeof args[0] !== 'string') throw new EvaluationError('States.StringToJson: the argument must be a string');
      try {
        return JSON.parse(args[0]) as Value;
      } catch {
        throw new EvaluationError(`States.StringToJson: '${args[0].slice(0, 60)}' is not JSON`);
      }
    case 'States.JsonToString':
      arity(1);
      return containsUnknown(args[0]) ? new Unknown('States.JsonToString of a value known at run time') : JSON.stringify(args[0]);
    case 'States.ArrayLength':
      arity(1);
      if (unknownIn) return new Unknown(`States.ArrayLength of ${unknownIn.source}`);
      if (!Array.isArray(args[0])) throw new EvaluationError('States.ArrayLength: the argument must be a list');
      return args[0].length;
    case 'States.ArrayGetItem': {
      arity(2);
      if (unknownIn) return new Unknown(`States.ArrayGetItem of ${unknownIn.source}`);
      const [list, index] = args;
      if (!Array.isArray(list) || typeof index !== 'number') throw new EvaluationError('States.ArrayGetItem takes a list and an index');
      if (list[index] === undefined) throw new EvaluationError(`States.ArrayGetItem: index ${index} is outside the list of ${list.length}`);
      return list[index];
    }
    case 'States.Hash': {
      arity(2);
      const algorithm = args[1];
      if (typeof algorithm !== 'string' || HASHES[algorithm] === undefined) {
        throw new EvaluationError(`States.Hash: algorithm ${JSON.stringify(algorithm)} is not one of ${Object.keys(HASHES).join(', ')}`);
      }
      const size = crypto.createHash(HASHES[algorithm]).digest('hex').length;
      if (args[0] instanceof Unknown) return new Unknown(`States.Hash of ${args[0].source}`, size);
      if (typeof args[0] !== 'string') throw new EvaluationError('States.Hash: the data must be a string');
      if ([...args[0]].length > 10000) throw new EvaluationError('States.Hash: the data is longer than 10,000 characters');
      return crypto.createHash(HASHES[algorithm]).update(args[0]).digest('hex');
    }
    case 'States.UUID':
      arity(0);
      return 'f4a9e6c2-0b7d-4e1f-9a3c-5d8e2b6f7a10';
    case 'States.MathAdd':
      arity(2);
      if (unknownIn) return new Unknown(`States.MathAdd of ${unknownIn.source}`);
      if (typeof args[0] !== 'number' || typeof args[1] !== 'number') throw new EvaluationError('States.MathAdd takes two numbers');
      return args[0] + args[1];
    case 'States.StringSplit':
      arity(2);
      if (unknownIn) return new Unknown(`States.StringSplit of ${unknownIn.source}`);
      if (typeof args[0] !== 'string' || typeof args[1] !== 'string') throw new EvaluationError('States.StringSplit takes two strings');
      return args[0].split(new RegExp(`[${args[1].replace(/[\\\]^-]/g, '\\$&')}]`)).filter((s) => s !== '');
    case 'States.Base64Encode':
      arity(1);
      if (unknownIn) return new Unknown(`States.Base64Encode of ${unknownIn.source}`, unknownIn.maxLength === undefined ? undefined : 4 * Math.ceil((unknownIn.maxLength * 4) / 3));
      if (typeof args[0] !== 'string') throw new EvaluationError('States.Base64Encode takes a string');
      return Buffer.from(args[0]).toString('base64');
    case 'States.ArrayContains':
      arity(2);
      if (args[0] instanceof Unknown || containsUnknown(args[1])) return new Unknown('States.ArrayContains of a value known at run time');
      if (!Array.isArray(args[0])) throw new EvaluationError('States.ArrayContains: the first argument must be a list');
      return containsUnknown(args[0]) ? new Unknown('States.ArrayContains of a value known at run time') : args[0].some((v) => equal(v, args[1]));
    case 'States.ArrayUnique':
      arity(1);
      if (unknownIn || containsUnknown(args[0])) return new Unknown('States.ArrayUnique of a value known at run time');
      if (!Array.isArray(args[0])) throw new EvaluationError('States.ArrayUnique: the argument must be a list');
      return args[0].filter((v, i, all) => all.findIndex((w) => equal(v, w)) === i);
    case 'States.ArrayPartition': {
      arity(2);
      if (unknownIn) return new Unknown(`States.ArrayPartition of ${unknownIn.source}`);
      const [list, size] = args;
      if (!Array.isArray(list) || typeof size !== 'number' || size < 1) throw new EvaluationError('States.ArrayPartition takes a list and a chunk size of at least 1');
      return Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));
    }
    case 'States.ArrayRange': {
      arity(3);
      if (unknownIn) return new Unknown(`States.ArrayRange of ${unknownIn.source}`);
      const [start, end, step] = args;
      if (typeof start !== 'number' || typeof end !== 'number' || typeof step !== 'number' || step === 0) throw new EvaluationError('States.ArrayRange takes a start, an end and a non-zero step');
      const out: number[] = [];
      for (let v = start; step > 0 ? v <= end : v >= end; v += step) out.push(v);
      if (out.length > 1000) throw new EvaluationError('States.ArrayRange: more than 1,000 items');
      return out;
    }
    case 'States.Base64Decode':
      arity(1);
      if (unknownIn) return new Unknown(`States.Base64Decode of ${unknownIn.source}`, unknownIn.maxLength === undefined ? undefined : Math.ceil((unknownIn.maxLength * 3) / 4));
      if (typeof args[0] !== 'string') throw new EvaluationError('States.Base64Decode takes a string');
      return Buffer.from(args[0], 'base64').toString('utf8');
    case 'States.JsonMerge': {
      arity(3);
      const [a, b, deep] = args;
      if (deep !== false) throw new EvaluationError('States.JsonMerge: Step Functions supports only the shallow merge (false)');
      if (a instanceof Unknown || b instanceof Unknown) return { ...(isObject(a) ? a : {}), ...(isObject(b) ? b : {}), [OPEN]: true };
      if (!isObject(a) || !isObject(b)) throw new EvaluationError('States.JsonMerge merges two objects');
      return { ...a, ...b };
    }
    case 'States.MathRandom':
      if (args.length !== 2 && args.length !== 3) throw new EvaluationError(`States.MathRandom takes 2 or 3 arguments, but ${args.length} were given`);
      return new Unknown('States.MathRandom');
    default:
      throw new EvaluationError(`${name} is not an intrinsic function of Step Functions`);
  }
}

function containsUnknown(value: Value): boolean {
  if (value instanceof Unknown) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (isObject(value)) return Boolean(value[OPEN]) || Object.values(value).some(containsUnknown);
  return false;
}

function evaluateExpr(expr: Expr, input: Value, context: Value): Value {
  switch (expr.kind) {
    case 'string':
    case 'number':
    case 'literal':
      return expr.value;
    case 'path':
      return evaluatePath(expr.path, input, context);
    case 'call':
      return call(expr.name, expr.args.map((a) => evaluateExpr(a, input, context)), expr.args);
  }
}

/** The value of a `.$` field: a path (`$.a`, `$$.Execution.Name`) or an intrinsic function. */
export function evaluateExpression(expression: string, input: Value, context: Value): Value {
  return evaluateExpr(new Parser(expression.trim()).parse(), input, context);
}

/** Reports where a template's evaluation failed. */
export type Report = (path: string, message: string) => void;

/**
 * A JSONPath payload template (Parameters, ResultSelector, ItemSelector) evaluated: `.$` fields
 * replaced by their values (the key without `.$`). A field that fails is reported at its path and
 * becomes Unknown, so that the rest is still checked.
 */
export function evaluateTemplate(template: unknown, input: Value, context: Value, report: Report, at = ''): Value {
  if (Array.isArray(template)) return template.map((item, i) => evaluateTemplate(item, input, context, report, `${at}[${i}]`));
  if (typeof template !== 'object' || template === null) return template as Value;
  const out: ValueObject = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) {
      const name = key.slice(0, -2);
      const where = at === '' ? name : `${at}.${name}`;
      try {
        if (typeof value !== 'string') throw new EvaluationError(`${key} must be a path or an intrinsic function`);
        out[name] = evaluateExpression(value, input, context);
      } catch (error) {
        if (!(error instanceof EvaluationError)) throw error;
        report(where, `Step Functions fails the state: ${error.message}`);
        out[name] = new Unknown(`${value}`);
      }
    } else {
      out[key] = evaluateTemplate(value, input, context, report, at === '' ? key : `${at}.${key}`);
    }
  }
  return out;
}

/**
 * A JSONata template (Arguments, Output): `{% ... %}` strings are Unknown (this checker does not
 * run JSONata), other values as they are.
 */
export function evaluateJsonata(template: unknown): Value {
  if (typeof template === 'string') return /^\{%[\s\S]*%\}$/.test(template.trim()) ? new Unknown(`JSONata ${template.slice(0, 40)}...`) : template;
  if (Array.isArray(template)) return template.map(evaluateJsonata);
  if (typeof template !== 'object' || template === null) return template as Value;
  return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, evaluateJsonata(v)]));
}

/** `value` with `result` put at `resultPath` (`$`: replaced; `$.a.b`: set, creating objects). */
export function applyResultPath(input: Value, resultPath: string | null | undefined, result: Value): Value {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  const { root, segments } = parsePath(resultPath);
  if (root !== '$' || segments.some((s) => s.kind !== 'name')) throw new EvaluationError(`ResultPath '${resultPath}' must be a path of field names`);
  const names = segments.map((s) => (s as { name: string }).name);
  const set = (node: Value | undefined, i: number): Value => {
    if (i === names.length) return result;
    let base: ValueObject;
    if (isObject(node)) base = { ...node };
    else if (node === undefined) base = {};
    else if (node instanceof Unknown) base = { [OPEN]: true };
    else throw new EvaluationError(`ResultPath '${resultPath}': the input at ${['$', ...names.slice(0, i)].join('.')} is ${JSON.stringify(node)}, not an object`);
    base[names[i]] = set(base[names[i]] ?? (base[OPEN] ? new Unknown(resultPath) : undefined), i + 1);
    return base;
  };
  return set(input, 0);
}

/** The join of two values a state may get: the same value, or what both could be (presence wins: a field either has is kept). */
export function join(a: Value | undefined, b: Value): Value {
  if (a === undefined) return b;
  if (equal(a, b)) return a;
  if (isObject(a) && isObject(b)) {
    const out: ValueObject = {};
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) out[key] = key in a && key in b ? join(a[key], b[key]) : (key in a ? a[key] : b[key]);
    if (a[OPEN] || b[OPEN]) out[OPEN] = true;
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.map((item, i) => join(item, b[i]));
  const len = (v: Value) => (typeof v === 'string' ? [...v].length : v instanceof Unknown ? v.maxLength : undefined);
  const la = len(a);
  const lb = len(b);
  const source = a instanceof Unknown ? a.source : b instanceof Unknown ? b.source : 'values that differ between paths';
  return new Unknown(source, la !== undefined && lb !== undefined ? Math.max(la, lb) : undefined);
}

export function equal(a: Value, b: Value): boolean {
  if (a instanceof Unknown || b instanceof Unknown) return a instanceof Unknown && b instanceof Unknown && a.source === b.source && a.maxLength === b.maxLength;
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return Boolean(a[OPEN]) === Boolean(b[OPEN]) && ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  return a === b;
}
