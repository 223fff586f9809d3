/**
 * Every Task request of every state machine of a synthesized stack, evaluated with worst-case
 * values and checked against botocore's service models: findings as
 * `<stack> <state machine> <state> <member path>: <what AWS would reject>`.
 */
import { CfnResource, Stack } from 'aws-cdk-lib';
import { Unknown } from './botocore';
import { OPEN, Value, ValueObject, join } from './evaluate';
import { StackInfo, TemplateResource, resolveTemplateValue } from './placeholders';
import { EvaluatedTask, ExecutionContext, simulateDefinition } from './simulate';

/**
 * The longest execution name Step Functions allows (80 characters), of characters it allows that
 * many AWS names do not (`_`, `.`): someone starting a run by hand may well choose one like it.
 */
export const WORST_CASE_EXECUTION_NAME = 'Backfill_2025-12-31T23.59.59Z_manual-rerun.of.the.nightly.run_requested-by-oncal';
/** The latest time of day, with milliseconds: the longest ISO-8601 start time. */
export const WORST_CASE_START_TIME = '2025-12-31T23:59:59.999Z';
/** S3 caps object keys at 1,024 bytes. */
const MAX_S3_KEY_LENGTH = 1024;

/** The state machine as findings name it: its construct path in the stack (`Indexing/Workflow`), or its logical id. */
function machineName(info: StackInfo, logicalId: string): string {
  const path = info.paths?.[logicalId] ?? info.resources[logicalId].Metadata?.['aws:cdk:path'];
  return typeof path === 'string' ? path.replace(new RegExp(`^${info.stackName}/`), '').replace(/\/Resource$/, '') : logicalId;
}

const refersTo = (value: unknown, logicalId: string) => JSON.stringify(value ?? null).includes(`"${logicalId}"`);

/** An EventBridge InputTemplate: `<name>` placeholders of the event are Unknown. */
function inputTemplate(template: string): Value {
  const marker = '\u0000input:';
  const parsed = JSON.parse(template.replace(/<([A-Za-z0-9_.-]+)>/g, (_m, name: string) => JSON.stringify(`${marker}${name}`))) as Value;
  const unknowns = (v: Value): Value => {
    if (typeof v === 'string' && v.startsWith(marker)) return new Unknown(`the event's ${v.slice(marker.length)}`);
    if (Array.isArray(v)) return v.map(unknowns);
    if (v !== null && typeof v === 'object' && !(v instanceof Unknown)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unknowns(x)]));
    return v;
  };
  return unknowns(parsed);
}

/**
 * The worst-case S3 "Object Created" event a rule on `pattern` passes: its bucket, and a key with
 * the rule's prefix as long as S3 allows.
 */
function s3ObjectCreated(info: StackInfo, pattern: Record<string, unknown>): Value {
  // The pattern was resolved with the stack's placeholders.
  const detail = pattern.detail as { bucket?: { name?: string[] }; object?: { key?: ({ prefix?: string } | string)[] } } | undefined;
  const bucket = detail?.bucket?.name?.[0] ?? 'amzn-s3-demo-bucket';
  const keyRule = detail?.object?.key?.[0];
  const prefix = typeof keyRule === 'string' ? keyRule : keyRule?.prefix ?? '';
  const key = `${prefix}year=2025/month=12/day=31/${'part-00000-of-a-very-long-object-name_'.repeat(40)}`.slice(0, MAX_S3_KEY_LENGTH - 8) + '.json.gz';
  const open = (fields: ValueObject): ValueObject => ({ ...fields, [OPEN]: true });
  return open({
    'version': '0', 'id': '17793124-05d4-b198-2fde-7ededc63b103', 'detail-type': 'Object Created', 'source': 'aws.s3',
    'account': info.account, 'time': WORST_CASE_START_TIME.replace(/\.\d+Z$/, 'Z'), 'region': info.region,
    'resources': [`arn:${info.partition}:s3:::${bucket}`],
    'detail': open({ version: '0', bucket: { name: bucket }, object: open({ key, size: new Unknown('the object size') }), reason: 'PutObject' }),
  });
}

/** What an execution of `machineId` may start with: the join of what its rules and schedules pass (Unknown when nothing in the stack starts it). */
function executionInput(info: StackInfo, machineId: string): Value {
  let input: Value | undefined;
  for (const [, resource] of Object.entries(info.resources)) {
    const targets: Record<string, unknown>[] = resource.Type === 'AWS::Events::Rule' ? resource.Properties?.Targets ?? []
      : resource.Type === 'AWS::Scheduler::Schedule' ? [resource.Properties?.Target] : [];
    for (const target of targets.filter((t) => refersTo(t.Arn, machineId))) {
      let value: Value;
      if (typeof target.Input === 'string') {
        value = JSON.parse(target.Input) as Value;
      } else if (target.InputTransformer !== undefined) {
        value = inputTemplate(String(resolveTemplateValue((target.InputTransformer as { InputTemplate: unknown }).InputTemplate, info)));
      } else if (resource.Type === 'AWS::Events::Rule') {
        const pattern = (resolveTemplateValue(resource.Properties?.EventPattern, info) ?? {}) as Record<string, unknown>;
        const s3 = JSON.stringify(pattern.source) === '["aws.s3"]' && JSON.stringify(pattern['detail-type']) === '["Object Created"]';
        value = s3 ? s3ObjectCreated(info, pattern) : { [OPEN]: true } as ValueObject;
      } else {
        value = { [OPEN]: true } as ValueObject;
      }
      input = join(input, value);
    }
  }
  return input ?? new Unknown('the execution input');
}

/** A finding in the report's form. */
export interface RequestFinding {
  readonly stack: string;
  readonly stateMachine: string;
  readonly state: string;
  readonly path: string;
  readonly message: string;
}

export const formatFinding = (f: RequestFinding) => `${f.stack} ${f.stateMachine} ${f.state} ${f.path}: ${f.message}`;

/** Every state machine of a stack's template, its requests checked. */
export function checkStackRequests(info: StackInfo): { findings: RequestFinding[]; tasks: (EvaluatedTask & { stateMachine: string })[] } {
  const findings: RequestFinding[] = [];
  const tasks: (EvaluatedTask & { stateMachine: string })[] = [];
  for (const [logicalId, resource] of Object.entries(info.resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const props = resource.Properties ?? {};
    let text = String(resolveTemplateValue(props.DefinitionString, info));
    const substitutions = resolveTemplateValue(props.DefinitionSubstitutions ?? {}, info) as Record<string, string>;
    for (const [key, value] of Object.entries(substitutions)) text = text.split(`\${${key}}`).join(value);
    const stateMachineArn = String(resolveTemplateValue({ Ref: logicalId }, info));
    const context: ExecutionContext = {
      executionName: WORST_CASE_EXECUTION_NAME,
      stateMachineArn,
      roleArn: String(resolveTemplateValue(props.RoleArn, info)),
      startTime: WORST_CASE_START_TIME,
    };
    const machine = machineName(info, logicalId);
    const result = simulateDefinition(JSON.parse(text), executionInput(info, logicalId), context);
    findings.push(...result.findings.map((f) => ({ stack: info.stackName, stateMachine: machine, ...f })));
    tasks.push(...result.tasks.map((t) => ({ ...t, stateMachine: machine })));
  }
  return { findings, tasks };
}

/** A synthesized stack as the check reads it: its template's resources, and their construct paths. */
export function stackInfo(stack: Stack, resources: Readonly<Record<string, TemplateResource>>): StackInfo {
  const paths = Object.fromEntries(stack.node.findAll().filter(CfnResource.isCfnResource)
    .map((resource) => [stack.resolve((resource as CfnResource).logicalId) as string, resource.node.path]));
  return { stackName: stack.stackName, region: stack.region, account: stack.account, partition: 'aws', resources, paths };
}
