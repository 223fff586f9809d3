/**
 * The architecture diagram of a synthesized blueprint stack, derived from the app, not hand-written:
 *
 * - nodes: the stack's top-level constructs, by their construct type (DataLake split into raw zone,
 *   anonymization and curated zone; GpuTrainingJob into training and model registry; ModelMonitor
 *   into monitoring and retraining); roles (top-level IAM roles) are the clients that call in;
 * - edges: references between the resources of two nodes (`Ref`/`Fn::GetAtt` in properties, IAM
 *   policies and event rules included), drawn in the direction data flows (the referenced store
 *   feeds the referencing consumer, except for the writes listed in {@link WRITES}); a custom
 *   event source (`mlsd.model-monitor`) links the workflow that puts the event to the rule's
 *   target; a training workflow's `createModelPackage` links it to the registry with that name;
 *   the registry links to the releases and transforms that serve its approved versions.
 */
import { CfnElement, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

/** What a node does in the pipeline; decides its colour, rank and edge direction. */
export type Role = 'source' | 'client' | 'raw' | 'anonymization' | 'curated' | 'features' | 'training' | 'registry'
  | 'endpoint' | 'batch' | 'index' | 'cache' | 'serving' | 'review' | 'monitoring' | 'retraining' | 'release' | 'other';

export interface DiagramNode { readonly id: string; readonly label: string; readonly role: Role; readonly type: string }
export interface DiagramEdge { readonly from: string; readonly to: string; readonly label: string }
export interface Diagram { readonly nodes: DiagramNode[]; readonly edges: DiagramEdge[] }

/** Construct types (class names) → role. */
const ROLE_OF_TYPE: Record<string, Role> = {
  FeatureStore: 'features', RealtimeEndpoint: 'endpoint', ServingModel: 'endpoint', BatchTransform: 'batch',
  VectorIndex: 'index', PredictionCache: 'cache', ReviewQueue: 'review', ServingPath: 'serving',
  GpuTrainingJob: 'training', ModelMonitor: 'monitoring', DataLake: 'curated', Role: 'client', Role2: 'client',
  PopularItems: 'batch', ModelRelease: 'release',
};

/** (referencing role, referenced role) pairs where the referencing side writes into the referenced one. */
export const WRITES: ReadonlySet<string> = new Set([
  'anonymization>curated', 'endpoint>curated', 'batch>cache', 'batch>index', 'serving>raw', 'client>features',
  'client>serving', 'serving>review', 'client>review', 'training>registry', 'client>raw', 'release>endpoint',
]);

/** Resource types whose references carry data or control (keys, roles, networking and logs do not). */
const DATA_TYPES = new Set([
  'AWS::S3::Bucket', 'AWS::Kinesis::Stream', 'AWS::KinesisFirehose::DeliveryStream', 'AWS::SageMaker::Endpoint',
  'AWS::SageMaker::Model', 'AWS::SageMaker::FeatureGroup', 'AWS::OpenSearchServerless::Collection', 'AWS::DynamoDB::Table',
  'AWS::ElastiCache::ReplicationGroup', 'AWS::StepFunctions::StateMachine', 'AWS::ApiGateway::RestApi', 'AWS::SQS::Queue',
  'AWS::CloudWatch::Alarm', 'AWS::SageMaker::ModelPackageGroup',
]);
const IGNORED_SOURCE_TYPES = new Set(['AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress', 'AWS::KMS::Key', 'AWS::IAM::Role']);

const EDGE_LABEL: Record<string, string> = {
  'raw>anonymization': 'windows of raw objects', 'anonymization>curated': 'anonymized rows', 'curated>features': 'batch features',
  'curated>training': 'training data', 'training>registry': 'model package', 'registry>endpoint': 'approved version',
  'endpoint>serving': 'predictions', 'endpoint>monitoring': 'captured traffic', 'monitoring>retraining': 'drift alarm',
  'retraining>training': 'retraining event', 'features>serving': 'online features', 'index>serving': 'k-NN',
  'cache>serving': 'cached predictions', 'serving>raw': 'impressions, outcomes', 'curated>batch': 'catalogue',
  'endpoint>batch': 'model', 'batch>cache': 'predictions', 'batch>index': 'vectors', 'endpoint>curated': 'data capture',
  'curated>monitoring': 'baseline, capture', 'client>serving': 'requests', 'client>features': 'events', 'source>raw': 'uploads',
  'source>serving': 'requests', 'serving>review': 'uncertain items', 'registry>release': 'approved version',
  'registry>batch': 'approved version', 'anonymization>batch': 'each window', 'release>endpoint': 'deploys', 'release>serving': 'traffic weights', 'batch>release': 'version indexed',
};

function subNode(top: string, type: string, child: string | undefined): { key: string; role: Role; label: string } {
  if (type === 'DataLake') {
    if (child === 'Raw' || child === 'AccessLogs' || child?.startsWith('Ingestion-')) return { key: `${top}_raw`, role: 'raw', label: `${top} · raw zone` };
    if (child?.startsWith('Dataset-') || child?.startsWith('Anonymization') || child === 'PseudonymizationKey') return { key: `${top}_anonymization`, role: 'anonymization', label: `${top} · anonymization` };
    return { key: `${top}_curated`, role: 'curated', label: `${top} · curated zone` };
  }
  if (type === 'GpuTrainingJob' && child === 'ModelPackageGroup') return { key: `${top}_registry`, role: 'registry', label: `${top} · model registry` };
  if (type === 'ModelMonitor' && child === 'Retraining') return { key: `${top}_retraining`, role: 'retraining', label: `${top} · retraining` };
  return { key: top.replace(/[^A-Za-z0-9_]/g, '_'), role: ROLE_OF_TYPE[type] ?? 'other', label: top };
}

/**
 * Top-level children that are CDK plumbing, not architecture. Alerting is cross-cutting (every
 * alarm of the stack reports to it): drawn, it would tie itself to every node.
 */
function isPlumbing(top: IConstruct, type: string): boolean {
  return type === 'Network' || type === 'Alerting' || type === 'CfnParameter' || type === 'CfnRule' || type === 'CfnOutput' || top.node.id.startsWith('Custom::')
    || /^[A-Za-z]+[0-9a-f]{32}$/.test(top.node.id) || top.node.id.startsWith('BucketNotificationsHandler');
}

function collectRefs(value: Json, out: Set<string>): void {
  if (Array.isArray(value)) value.forEach((v) => collectRefs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v)) out.add(String(v[0]));
      else collectRefs(v, out);
    }
  }
}

function text(value: Json): string {
  return JSON.stringify(value ?? null);
}

/** Builds the diagram of `stack`, whose synthesized template is `template`. */
export function buildDiagram(stack: Stack, template: Json): Diagram {
  const resources: Record<string, Json> = template.Resources ?? {};
  const nodeOfResource = new Map<string, string>();
  const nodes = new Map<string, DiagramNode>();
  for (const top of stack.node.children) {
    const type = top.constructor.name;
    if (isPlumbing(top, type)) continue;
    for (const c of top.node.findAll()) {
      if (!(c instanceof CfnElement)) continue;
      const rel = c.node.path.split('/').slice(1);
      if (type === 'DataLake' && rel[1] === 'AccessLogs') continue; // server access logs: plumbing
      const { key, role, label } = subNode(top.node.id, type, rel[1]);
      nodeOfResource.set(stack.getLogicalId(c), key);
      if (!nodes.has(key)) nodes.set(key, { id: key, label, role, type: type.replace(/2$/, '') });
    }
  }
  const edges = new Map<string, DiagramEdge>();
  const add = (from: string, to: string) => {
    if (from === to) return;
    const k = `${from}>${to}`;
    const pair = `${nodes.get(from)!.role}>${nodes.get(to)!.role}`;
    if (!edges.has(k)) edges.set(k, { from, to, label: EDGE_LABEL[pair] ?? '' });
  };

  // References between nodes, in the direction data flows.
  for (const [id, resource] of Object.entries(resources)) {
    const a = nodeOfResource.get(id);
    if (!a || IGNORED_SOURCE_TYPES.has(resource.Type)) continue;
    const refs = new Set<string>();
    collectRefs(resource.Properties, refs);
    for (const target of refs) {
      const b = nodeOfResource.get(target);
      if (!b || b === a || !DATA_TYPES.has(resources[target]?.Type)) continue;
      const roles = `${nodes.get(a)!.role}>${nodes.get(b)!.role}`;
      if (WRITES.has(roles)) add(a, b);
      else add(b, a);
    }
  }

  // Endpoints named literally (EndpointName) in another node's resources: a monitor watching it by name.
  for (const [epId, ep] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SageMaker::Endpoint' && typeof r.Properties?.EndpointName === 'string')) {
    const b = nodeOfResource.get(epId);
    if (!b) continue;
    const needle = `"${ep.Properties.EndpointName}"`;
    const seen = new Set<string>();
    for (const [id, r] of Object.entries(resources)) {
      const a = nodeOfResource.get(id);
      if (!a || a === b || seen.has(a) || nodes.get(a)!.role !== 'monitoring') continue;
      if (text(r.Properties).includes(needle) || text(r.Properties).includes(`\\${needle.slice(0, -1)}\\"`)) {
        seen.add(a);
        add(b, a);
      }
    }
  }

  // Custom event sources: the workflow that puts the event → the rule's targets.
  for (const [, rule] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern)) {
    const sources: string[] = rule.Properties.EventPattern.source ?? [];
    for (const source of sources.filter((s) => !s.startsWith('aws.'))) {
      const emitters = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && text(r.Properties.DefinitionString).includes(`\\"Source\\":\\"${source}\\"`));
      for (const target of rule.Properties.Targets ?? []) {
        const to = nodeOfResource.get(target.Arn?.Ref ?? target.Arn?.['Fn::GetAtt']?.[0] ?? '');
        for (const [emitter] of emitters) {
          const from = nodeOfResource.get(emitter);
          if (from && to) add(from, to);
        }
      }
    }
  }

  // Registries: the workflow that registers into a group → the group; the group → the releases
  // that deploy its approved versions and the transforms that run them.
  for (const [groupId, group] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SageMaker::ModelPackageGroup')) {
    const registry = nodeOfResource.get(groupId);
    if (!registry) continue;
    const name = group.Properties.ModelPackageGroupName;
    for (const [id, r] of Object.entries(resources)) {
      const definition = r.Type === 'AWS::StepFunctions::StateMachine' ? text(r.Properties.DefinitionString) : '';
      if (definition.includes('sagemaker:createModelPackage') && definition.includes(`\\"ModelPackageGroupName\\":\\"${name}\\"`)) {
        const from = nodeOfResource.get(id);
        if (from) add(from, registry);
      }
    }
    for (const [id, r] of Object.entries(resources)) {
      const node = nodeOfResource.get(id);
      if (!node) continue;
      const role = nodes.get(node)!.role;
      // A release of the group's approvals (its rule matches SageMaker's approval events for the group).
      const approvals = r.Type === 'AWS::Events::Rule' && role === 'release' && (r.Properties?.EventPattern?.source ?? []).includes('aws.sagemaker')
        && text(r.Properties.EventPattern).includes(`"${name}"`);
      // A transform whose first step runs the group's newest approved version.
      const resolver = r.Type === 'AWS::Lambda::Function' && role === 'batch' && text(r.Properties?.Environment).includes(`\\"modelPackageGroupName\\":\\"${name}\\"`);
      if (approvals || resolver) add(registry, node);
    }
  }

  // External producers and callers the stack itself does not contain.
  const hasRole = (role: Role) => [...nodes.values()].some((n) => n.role === role);
  const raw = [...nodes.values()].find((n) => n.role === 'raw');
  if (raw) {
    nodes.set('Sources', { id: 'Sources', label: 'Sources (producers)', role: 'source', type: 'external' });
    add('Sources', raw.id);
  }
  const serving = [...nodes.values()].filter((n) => n.role === 'serving');
  if (serving.length > 0 && !hasRole('client')) {
    nodes.set('Clients', { id: 'Clients', label: 'Client backend', role: 'source', type: 'external' });
    for (const s of serving) add('Clients', s.id);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

const COLOURS: Record<Role, string> = {
  source: '#eeeeee', client: '#eeeeee', raw: '#fde2e2', anonymization: '#fbd3a6', curated: '#fff3b0', features: '#d8f3dc',
  training: '#cde7f0', registry: '#bcd4e6', endpoint: '#d7c9f2', batch: '#e6d5f5', index: '#f3d9ea', cache: '#f3d9ea',
  serving: '#c9e4ca', review: '#f0e0c8', monitoring: '#ffd6a5', retraining: '#ffc4a3', release: '#b8e0d2', other: '#ffffff',
};

/** Pipeline order of the roles: edges against it do not constrain the layout (drawn as feedback). */
export const STAGE: Readonly<Record<Role, number>> = {
  source: 0, client: 0, raw: 1, anonymization: 2, curated: 3, features: 4, training: 5, registry: 6, endpoint: 7,
  batch: 8, index: 9, cache: 9, serving: 10, review: 11, monitoring: 11, retraining: 12, release: 6, other: 6,
};

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The diagram as Graphviz DOT, left to right. */
export function toDot(diagram: Diagram, title: string): string {
  const lines = [
    `digraph ${quote(title)} {`,
    '  rankdir=LR; nodesep=0.25; ranksep=0.45; bgcolor="white";',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=14, margin="0.12,0.05"];',
    '  edge [fontname="Helvetica", fontsize=11, color="#555555", fontcolor="#333333"];',
  ];
  for (const n of diagram.nodes) {
    const shape = n.role === 'source' || n.role === 'client' ? ', shape=ellipse' : n.role === 'raw' || n.role === 'curated' || n.role === 'cache' || n.role === 'index' ? ', shape=cylinder' : '';
    lines.push(`  ${quote(n.id)} [label=${quote(`${n.label}\n${n.type}`)}, fillcolor=${quote(COLOURS[n.role])}${shape}];`);
  }
  const roleOf = new Map(diagram.nodes.map((n) => [n.id, n.role]));
  for (const e of diagram.edges) {
    const back = STAGE[roleOf.get(e.from)!] > STAGE[roleOf.get(e.to)!];
    const attrs = [e.label ? `label=${quote(e.label)}` : '', back ? 'constraint=false, color="#b06000"' : ''].filter(Boolean).join(', ');
    lines.push(`  ${quote(e.from)} -> ${quote(e.to)}${attrs ? ` [${attrs}]` : ''};`);
  }
  lines.push('}');
  return lines.join('\n');
}

/** Renders DOT to SVG with the WebAssembly Graphviz (no system binary). */
export async function renderSvg(dot: string): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Graphviz } = require('@hpcc-js/wasm-graphviz') as typeof import('@hpcc-js/wasm-graphviz');
  const graphviz = await Graphviz.load();
  return graphviz.dot(dot);
}
