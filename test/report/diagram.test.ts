import { Stack } from 'aws-cdk-lib';
import { VIDEO_RECOMMENDATION } from '../../blueprints/video-recommendation';
import { createApp } from '../../lib/app';
import { estimateTemplate } from '../../lib/cost/estimate';
import { execFileSync } from 'child_process';
import { Diagram, buildDiagram, toDot } from '../../scripts/report/diagram';
import { kitApp } from '../support/app';

let stack: Stack;
let template: any; // eslint-disable-line @typescript-eslint/no-explicit-any
let diagram: Diagram;

beforeAll(() => {
  process.env.CDK_VALIDATION = 'false';
  process.env.CDK_DEFAULT_ACCOUNT ??= '123456789012';
  const app = kitApp();
  [stack] = createApp(app, { blueprints: [VIDEO_RECOMMENDATION] });
  template = app.synth().getStackByName(stack.stackName).template;
  diagram = buildDiagram(stack, template);
}, 120_000);

const edge = (from: string, to: string) => diagram.edges.find((e) => e.from === from && e.to === to);

describe('video-recommendation diagram, from the synthesized stack', () => {
  test('nodes by construct type, the lake and training split into their stages', () => {
    const ids = diagram.nodes.map((n) => `${n.id}:${n.role}`);
    expect(ids).toEqual(expect.arrayContaining([
      'Sources:source', 'Lake_raw:raw', 'Lake_anonymization:anonymization', 'Lake_curated:curated', 'FeatureStore:features',
      'Training:training', 'Training_registry:registry', 'UserTowerEndpoint:endpoint', 'RankingEndpoint:endpoint',
      'CandidateIndex:index', 'VideoEmbeddings:cache', 'Indexing:batch', 'Serving:serving', 'Monitor:monitoring',
      'Monitor_retraining:retraining', 'BackendRole:client',
    ]));
    expect(ids.some((n) => n.startsWith('Network'))).toBe(false);
  });

  test('the pipeline: sources → lake → anonymization → features/training → registry → serving → monitoring → retraining → training', () => {
    for (const [from, to] of [
      ['Sources', 'Lake_raw'], ['Lake_raw', 'Lake_anonymization'], ['Lake_anonymization', 'Lake_curated'],
      ['Lake_curated', 'FeatureStore'], ['Lake_curated', 'Training'], ['Training', 'Training_registry'],
      ['Training_registry', 'Release'], ['Release', 'RankingEndpoint'], ['Release', 'Serving'], ['RankingEndpoint', 'Serving'], ['UserTowerEndpoint', 'Serving'],
      ['CandidateIndex', 'Serving'], ['FeatureStore', 'Serving'], ['RankingEndpoint', 'Monitor'],
      ['Monitor', 'Monitor_retraining'], ['Monitor_retraining', 'Training'], ['Serving', 'Lake_raw'],
      ['Indexing', 'CandidateIndex'], ['UserTowerEndpoint', 'Indexing'],
    ]) {
      expect(edge(from, to)).toBeDefined();
    }
    // Approved versions reach the ranker through its release, the index through the transform's
    // first step, and the user tower once the index holds its version.
    expect(edge('Training_registry', 'Release')!.label).toBe('approved version');
    expect(edge('Release', 'RankingEndpoint')!.label).toBe('deploys');
    expect(edge('Training_registry', 'Indexing')!.label).toBe('approved version');
    expect(edge('Indexing', 'UserTowerRelease')!.label).toBe('version indexed');
    expect(edge('UserTowerRelease', 'UserTowerEndpoint')!.label).toBe('deploys');
    expect(edge('Training_registry', 'RankingEndpoint')).toBeUndefined();
    // A transform's announcement is not a registration.
    expect(edge('Indexing', 'Training_registry')).toBeUndefined();
    // Data flows one way on these: no reversed edges.
    expect(edge('Training', 'Lake_curated')).toBeUndefined();
    expect(edge('Serving', 'RankingEndpoint')).toBeUndefined();
  });

  test('the DOT carries the edges, feedback edges do not constrain the layout, and it renders to SVG', () => {
    const dot = toDot(diagram, stack.stackName);
    expect(dot).toContain('"Lake_raw" -> "Lake_anonymization" [label="windows of raw objects"]');
    expect(dot).toContain('"Monitor_retraining" -> "Training" [label="retraining event", constraint=false');
    // @hpcc-js/wasm-graphviz is an ES module jest cannot require: render in node, as `npm run report` does.
    const svg = execFileSync(process.execPath, ['-e', "const {Graphviz}=require('@hpcc-js/wasm-graphviz');let d='';process.stdin.on('data',c=>d+=c).on('end',()=>Graphviz.load().then(g=>process.stdout.write(g.dot(d))))"], { input: dot, encoding: 'utf8' });
    expect(svg).toContain('<svg');
    expect(svg).toContain('Lake · anonymization');
  });

  test('the synthesized template prices without unknown types', () => {
    const est = estimateTemplate(template, { region: stack.region });
    expect(est.components.filter((c) => c.kind === 'endpoint').map((c) => c.peakMonthly)).toEqual([8 * 730 * 0.23, 51 * 730 * 0.461]);
    expect(est.totalPeak).toBeGreaterThan(est.totalMin);
  });
});
