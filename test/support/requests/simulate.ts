/**
 * Runs a state machine definition over worst-case values, state by state, the way Step Functions
 * moves data (InputPath, Parameters, ResultSelector, ResultPath, OutputPath; Catch; Map and
 * Parallel), and checks each Task's request against botocore's model of the API it calls.
 *
 * Every path is followed (a Choice goes to each of its branches): a state's input is the join of
 * what every state before it may pass, iterated to a fixpoint, so loops end.
 */
import { Unknown, checkRequest } from './botocore';
import {
  EvaluationError, OPEN, Value, ValueObject, applyResultPath, equal, evaluatePath, evaluateJsonata, evaluateTemplate, isObject, join,
} from './evaluate';
import { integrationOf, resultOf } from './integrations';

/** One request AWS (or Step Functions before it) would reject: the state (`Map/Inner` inside a Map) and the member. */
export interface StateFinding {
  readonly state: string;
  readonly path: string;
  readonly message: string;
}

/** A Task's request as evaluated, for the record. */
export interface EvaluatedTask {
  readonly state: string;
  readonly resource: string;
  readonly operation: string;
  readonly request: Value;
}

/** The worst-case context object (`$$`) of an execution. */
export interface ExecutionContext {
  /** The execution's name (Step Functions allows 80 characters). */
  readonly executionName: string;
  readonly stateMachineArn: string;
  readonly roleArn: string;
  /** ISO-8601 start time. */
  readonly startTime: string;
}

type Definition = { StartAt: string; States: Record<string, State>; QueryLanguage?: string };
// A state of the Amazon States Language: its fields vary by Type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type State = Record<string, any>;

const MAX_VISITS = 200;

class Simulation {
  readonly findings = new Map<string, StateFinding>();
  readonly tasks = new Map<string, EvaluatedTask>();

  constructor(private readonly context: ExecutionContext, private readonly executionInput: Value) {}

  private contextObject(stateName: string, item?: { index: number | Unknown; value: Value }): Value {
    const name = this.context.stateMachineArn.split(':').at(-1)!;
    const executionArn = `${this.context.stateMachineArn.replace(':stateMachine:', ':execution:')}:${this.context.executionName}`;
    return {
      Execution: {
        Id: executionArn, Name: this.context.executionName, StartTime: this.context.startTime, RoleArn: this.context.roleArn,
        Input: this.executionInput, RedriveCount: 0, RedriveTime: this.context.startTime,
      },
      StateMachine: { Id: this.context.stateMachineArn, Name: name },
      State: { Name: stateName, EnteredTime: this.context.startTime, RetryCount: 0 },
      Task: { Token: new Unknown('$$.Task.Token', 1024) },
      ...(item ? { Map: { Item: { Index: item.index, Value: item.value } } } : {}),
    };
  }

  private find(state: string, path: string, message: string): void {
    const finding = { state, path, message };
    this.findings.set(JSON.stringify(finding), finding);
  }

  /** Runs `definition` from its StartAt with `input`; the join of what its end states output. */
  run(definition: Definition, input: Value, prefix: string, language: string, item?: { index: number | Unknown; value: Value }): Value {
    const inputs = new Map<string, Value>([[definition.StartAt, input]]);
    const visits = new Map<string, number>();
    const queue = [definition.StartAt];
    let output: Value | undefined;
    const send = (next: string, value: Value) => {
      const joined = join(inputs.get(next), value);
      if (inputs.has(next) && equal(inputs.get(next)!, joined)) return;
      inputs.set(next, joined);
      queue.push(next);
    };
    while (queue.length > 0) {
      const name = queue.shift()!;
      const count = (visits.get(name) ?? 0) + 1;
      visits.set(name, count);
      if (count > MAX_VISITS) throw new Error(`simulate: ${prefix}${name} did not settle after ${MAX_VISITS} visits`);
      const state = definition.States[name];
      if (state === undefined) throw new Error(`simulate: ${prefix}${name} is not a state`);
      const stateLanguage = state.QueryLanguage ?? definition.QueryLanguage ?? language;
      const outcomes = this.state(`${prefix}${name}`, name, state, inputs.get(name)!, stateLanguage, item);
      for (const [next, value] of outcomes) {
        if (next === undefined) output = join(output, value);
        else send(next, value);
      }
    }
    return output ?? new Unknown(`${prefix}(no end state)`);
  }

  /** What `state` sends where (`undefined`: the machine's output). */
  private state(path: string, name: string, state: State, input: Value, language: string, item?: { index: number | Unknown; value: Value }): [string | undefined, Value][] {
    const context = this.contextObject(name, item);
    const jsonata = language === 'JSONata';
    const report = (at: string, message: string) => this.find(path, at, message);
    const guard = (field: string, f: () => Value): Value => {
      try {
        return f();
      } catch (error) {
        if (!(error instanceof EvaluationError)) throw error;
        report(field, `Step Functions fails the state: ${error.message}`);
        return new Unknown(`${path} ${field}`);
      }
    };
    const inputPath = (v: Value) => (jsonata || state.InputPath === undefined ? v : state.InputPath === null ? {} : guard('InputPath', () => evaluatePath(state.InputPath, v, context)));
    const outputPath = (v: Value) => (jsonata || state.OutputPath === undefined ? v : state.OutputPath === null ? {} : guard('OutputPath', () => evaluatePath(state.OutputPath, v, context)));
    const resultPath = (v: Value, result: Value, expression: string | null | undefined) => (jsonata ? result : guard('ResultPath', () => applyResultPath(v, expression, result)));
    const next = (value: Value): [string | undefined, Value][] => [[state.End || state.Type === 'Succeed' ? undefined : state.Next, value]];
    const catches = (value: Value): [string | undefined, Value][] => (state.Catch ?? []).map((c: State) => [
      c.Next, jsonata ? value : guard('Catch.ResultPath', () => applyResultPath(value, c.ResultPath, { Error: new Unknown('Error'), Cause: new Unknown('Cause') })),
    ]);
    const jsonataOutput = (result: Value): Value => (state.Output === undefined ? result : evaluateJsonata(state.Output));

    switch (state.Type) {
      case 'Pass': {
        if (jsonata) return next(state.Output === undefined ? input : openIfDynamic(evaluateJsonata(state.Output)));
        const effective = inputPath(input);
        const result = state.Parameters !== undefined ? evaluateTemplate(state.Parameters, effective, context, (at, m) => report(`Parameters.${at}`, m))
          : state.Result !== undefined ? (state.Result as Value) : effective;
        return next(outputPath(resultPath(input, result, state.ResultPath)));
      }
      case 'Task': {
        const effective = inputPath(input);
        const request = jsonata ? evaluateJsonata(state.Arguments ?? {})
          : state.Parameters !== undefined ? evaluateTemplate(state.Parameters, effective, context, report) : effective;
        const integration = integrationOf(state.Resource);
        this.tasks.set(path, { state: path, resource: state.Resource, operation: `${integration.service}:${integration.operation}`, request });
        for (const v of checkRequest(integration.service, integration.operation, request, { jsonMembers: integration.jsonMembers })) report(v.path, v.message);
        const result = resultOf(integration, request);
        const selected = jsonata ? jsonataOutput(result)
          : state.ResultSelector !== undefined ? evaluateTemplate(state.ResultSelector, result, context, (at, m) => report(`ResultSelector.${at}`, m)) : result;
        return [...next(outputPath(resultPath(input, selected, state.ResultPath))), ...catches(input)];
      }
      case 'Choice': {
        const targets = new Set<string>([...(state.Choices ?? []).map((c: State) => c.Next as string), ...(state.Default ? [state.Default as string] : [])]);
        const out = outputPath(inputPath(input));
        return [...targets].map((t) => [t, out]);
      }
      case 'Wait':
        return next(outputPath(inputPath(input)));
      case 'Succeed':
        return [[undefined, jsonata ? jsonataOutput(input) : outputPath(inputPath(input))]];
      case 'Fail':
        return [];
      case 'Parallel': {
        const effective = inputPath(input);
        const branchInput = !jsonata && state.Parameters !== undefined ? evaluateTemplate(state.Parameters, effective, context, (at, m) => report(`Parameters.${at}`, m)) : effective;
        const results = (state.Branches as Definition[]).map((b, i) => this.run(b, branchInput, `${path}/branch${i}/`, language));
        const selected = !jsonata && state.ResultSelector !== undefined ? evaluateTemplate(state.ResultSelector, results, context, (at, m) => report(`ResultSelector.${at}`, m)) : results;
        return [...next(outputPath(resultPath(input, jsonata ? jsonataOutput(results) : selected, state.ResultPath))), ...catches(input)];
      }
      case 'Map': {
        const effective = inputPath(input);
        const items = jsonata || state.ItemReader ? new Unknown(`${path} items`) : guard('ItemsPath', () => evaluatePath(state.ItemsPath ?? '$', effective, context));
        if (!(items instanceof Unknown) && !Array.isArray(items)) report('ItemsPath', `Step Functions fails the state: the items are ${JSON.stringify(items)}, not a list`);
        const list = Array.isArray(items) ? items : [];
        const itemValue = list.length > 0 ? list.reduce<Value | undefined>((acc, v) => join(acc, v), undefined)! : new Unknown(`${path} item`);
        const index = list.length > 0 ? list.length - 1 : new Unknown(`${path} index`);
        const selector = state.ItemSelector ?? state.Parameters;
        const itemContext = this.contextObject(name, { index, value: itemValue });
        const iterationInput = jsonata ? itemValue : selector !== undefined ? evaluateTemplate(selector, effective, itemContext, (at, m) => report(`ItemSelector.${at}`, m)) : itemValue;
        const processor = (state.ItemProcessor ?? state.Iterator) as Definition;
        const out = this.run(processor, iterationInput, `${path}/`, language, { index, value: itemValue });
        const results: Value = Array.isArray(items) ? list.map(() => out) : new Unknown(`${path} results`);
        const selected = !jsonata && state.ResultSelector !== undefined ? evaluateTemplate(state.ResultSelector, results, context, (at, m) => report(`ResultSelector.${at}`, m)) : results;
        return [...next(outputPath(resultPath(input, jsonata ? jsonataOutput(results) : selected, state.ResultPath))), ...catches(input)];
      }
      default:
        throw new Error(`simulate: ${path} has an unknown Type ${state.Type}`);
    }
  }
}

/** A JSONata output with expressions: its listed fields, others possible. */
function openIfDynamic(value: Value): Value {
  if (value instanceof Unknown) return { [OPEN]: true } as ValueObject;
  if (isObject(value)) return { ...value, [OPEN]: true };
  return value;
}

/** The paths of every Task state of `definition`, inside Map and Parallel states too (as the simulation names them). */
function taskStates(definition: Definition, prefix = ''): string[] {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const path = `${prefix}${name}`;
    if (state.Type === 'Task') return [path];
    if (state.Type === 'Map') return taskStates((state.ItemProcessor ?? state.Iterator) as Definition, `${path}/`);
    if (state.Type === 'Parallel') return (state.Branches as Definition[]).flatMap((b, i) => taskStates(b, `${path}/branch${i}/`));
    return [];
  });
}

/** Every Task request of `definition` checked; its findings, each once, and the requests as evaluated. */
export function simulateDefinition(definition: unknown, input: Value, context: ExecutionContext): { findings: StateFinding[]; tasks: EvaluatedTask[] } {
  const simulation = new Simulation(context, input);
  const def = definition as Definition;
  simulation.run(def, input, '', def.QueryLanguage ?? 'JSONPath');
  const findings = [...simulation.findings.values()];
  // A Task the run never reaches was not checked; Step Functions also refuses a definition with one.
  for (const path of taskStates(def).filter((p) => !simulation.tasks.has(p))) {
    findings.push({ state: path, path: '(state)', message: 'is not reachable from StartAt, so its request was not checked' });
  }
  return { findings, tasks: [...simulation.tasks.values()] };
}
