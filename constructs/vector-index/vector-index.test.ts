import { CfnParameter, Duration, Lazy, RemovalPolicy, Stack, aws_ec2 as ec2, aws_iam as iam } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  DEFAULT_HNSW_EF_CONSTRUCTION, DEFAULT_HNSW_M, DOCUMENT_ERASER_TIMEOUT, ERASE_INDEX_PERMISSIONS, READ_INDEX_PERMISSIONS, SWAP_COLLECTION_PERMISSIONS, SWAP_INDEX_PERMISSIONS, READ_WRITE_INDEX_PERMISSIONS, VectorIndex, VectorIndexProps,
} from '.';
import { DataCategory } from '../../lib/classification';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { DataLake } from '../data-lake';
import { Network } from '../network';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Retrieval', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'similar listings' });
  const props: VectorIndexProps = {
    collectionName: 'similar-listings',
    network,
    encryptionKey: lake.encryptionKey,
    purpose: 'similar listings',
    retention: Duration.days(365),
  };
  return { app, stack, network, lake, props };
}

function role(stack: Stack, id: string): iam.Role {
  return new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}

/**
 * A policy document as the service will read it: the template's `Policy` string (or `Fn::Join`)
 * parsed, with each token (`Fn::GetAtt`, `Ref`) put back where it stands in the document.
 */
function policyDocument(value: Json): Json {
  const tokens: Json[] = [];
  const text = typeof value === 'string' ? value : value['Fn::Join'][1].map((part: Json) => {
    if (typeof part === 'string') {
      return part;
    }
    tokens.push(part);
    return `@@${tokens.length - 1}@@`;
  }).join(value['Fn::Join'][0]);
  const restore = (v: Json): Json => {
    if (Array.isArray(v)) {
      return v.map(restore);
    }
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, restore(x)]));
    }
    const match = typeof v === 'string' ? /^@@(\d+)@@$/.exec(v) : null;
    return match ? tokens[Number(match[1])] : v;
  };
  return restore(JSON.parse(text));
}

function resourcesOf(template: Template, type: string): Array<[string, Json]> {
  return Object.entries(template.findResources(type));
}

function securityPolicy(template: Template, type: 'encryption' | 'network'): [string, Json] {
  const found = resourcesOf(template, 'AWS::OpenSearchServerless::SecurityPolicy').filter(([, r]) => r.Properties.Type === type);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('collection', () => {
  test('a VECTORSEARCH collection with standby replicas, classified pseudonymized, after its security policies', () => {
    const { stack, props } = setup();
    new VectorIndex(stack, 'Index', props);
    const template = Template.fromStack(stack);
    const [encryptionId] = securityPolicy(template, 'encryption');
    const [networkId] = securityPolicy(template, 'network');
    template.resourceCountIs('AWS::OpenSearchServerless::Collection', 1);
    template.hasResource('AWS::OpenSearchServerless::Collection', {
      Properties: {
        Name: 'similar-listings',
        Type: 'VECTORSEARCH',
        StandbyReplicas: 'ENABLED',
        Tags: Match.arrayWith([
          { Key: 'mlsd:data-category', Value: 'pseudonymized' },
          { Key: 'mlsd:data-purpose', Value: 'similar listings' },
          { Key: 'mlsd:retention-days', Value: '365' },
        ]),
      },
      DependsOn: Match.arrayWith([encryptionId, networkId]),
      DeletionPolicy: 'Retain',
    });
  });

  test('standby replicas can be disabled, and the category, description and removal policy set', () => {
    const { stack, props } = setup({ destroyOnRemoval: 'true' });
    new VectorIndex(stack, 'Index', {
      ...props, standbyReplicas: false, dataCategory: DataCategory.ANONYMIZED, description: 'Listing embeddings', removalPolicy: RemovalPolicy.DESTROY,
    });
    const template = Template.fromStack(stack);
    template.hasResource('AWS::OpenSearchServerless::Collection', {
      Properties: Match.objectLike({
        StandbyReplicas: 'DISABLED',
        Description: 'Listing embeddings',
        Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'anonymized' }]),
      }),
      DeletionPolicy: 'Delete',
    });
  });

  test('exposes the collection name, ARN, endpoint and the VPC endpoint id', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    expect(index.collectionName).toBe('similar-listings');
    expect(stack.resolve(index.collectionArn)['Fn::GetAtt'][1]).toBe('Arn');
    expect(stack.resolve(index.collectionEndpoint)['Fn::GetAtt'][1]).toBe('CollectionEndpoint');
    expect(stack.resolve(index.vpcEndpointId)['Fn::GetAtt'][1]).toBe('Id');
    expect(stack.resolve(index.vpcEndpointId)['Fn::GetAtt'][0]).toMatch(/^IndexVpcEndpoint/);
  });
});

describe('security policies', () => {
  test('the encryption policy covers exactly the collection, with the lake key and no AWS-owned key', () => {
    const { stack, props } = setup();
    new VectorIndex(stack, 'Index', props);
    const [, policy] = securityPolicy(Template.fromStack(stack), 'encryption');
    expect(policy.Properties.Name).toBe('similar-listings');
    expect(policyDocument(policy.Properties.Policy)).toEqual({
      Rules: [{ ResourceType: 'collection', Resource: ['collection/similar-listings'] }],
      AWSOwnedKey: false,
      KmsARN: { 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] },
    });
    expect(policy.DeletionPolicy).toBe('Retain');
  });

  test('the network policy admits the collection and its Dashboards only from the construct\'s VPC endpoint', () => {
    const { stack, props } = setup();
    new VectorIndex(stack, 'Index', props);
    const template = Template.fromStack(stack);
    const [[endpointId]] = resourcesOf(template, 'AWS::OpenSearchServerless::VpcEndpoint');
    const [, policy] = securityPolicy(template, 'network');
    expect(policyDocument(policy.Properties.Policy)).toEqual([{
      Rules: [
        { ResourceType: 'collection', Resource: ['collection/similar-listings'] },
        { ResourceType: 'dashboard', Resource: ['collection/similar-listings'] },
      ],
      AllowFromPublic: false,
      SourceVPCEs: [{ 'Fn::GetAtt': [endpointId, 'Id'] }],
    }]);
  });

  test('the VPC endpoint sits in the network\'s isolated subnets, behind a security group that admits only allowed clients', () => {
    const { stack, network, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const client = new ec2.SecurityGroup(stack, 'Client', { vpc: network.vpc, description: 'retrieval client' });
    index.connections.allowDefaultPortFrom(client);
    const template = Template.fromStack(stack);
    const group = new Capture();
    template.hasResourceProperties('AWS::OpenSearchServerless::VpcEndpoint', {
      Name: 'similar-listings',
      VpcId: { Ref: Match.stringLikeRegexp('^Network') },
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^NetworkIsolatedSubnet1') }, { Ref: Match.stringLikeRegexp('^NetworkIsolatedSubnet2') }],
      SecurityGroupIds: [{ 'Fn::GetAtt': [group, 'GroupId'] }],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [group.asString(), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Client'), 'GroupId'] },
      FromPort: 443,
      ToPort: 443,
      IpProtocol: 'tcp',
    });
  });
});

describe('grants', () => {
  test('two grants share one data access policy that lists each principal with its permissions, and IAM allows the data plane', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const indexer = role(stack, 'Indexer');
    const retriever = role(stack, 'Retriever');
    index.grantReadWrite(indexer);
    index.grantRead(retriever);
    index.grantRead(retriever); // again: no duplicate
    index.grantRead(indexer); // already read-write: stays in the read-write entry only
    const template = Template.fromStack(stack);

    const policies = resourcesOf(template, 'AWS::OpenSearchServerless::AccessPolicy');
    expect(policies).toHaveLength(1);
    const [, policy] = policies[0];
    expect(policy.Properties).toMatchObject({ Name: 'similar-listings', Type: 'data' });
    const collectionRule = { ResourceType: 'collection', Resource: ['collection/similar-listings'], Permission: ['aoss:DescribeCollectionItems'] };
    expect(policyDocument(policy.Properties.Policy)).toEqual([
      {
        Rules: [
          {
            ResourceType: 'index', Resource: ['index/similar-listings/*'],
            Permission: ['aoss:ReadDocument', 'aoss:WriteDocument', 'aoss:CreateIndex', 'aoss:DescribeIndex', 'aoss:UpdateIndex'],
          },
          collectionRule,
        ],
        Principal: [{ 'Fn::GetAtt': [expect.stringMatching(/^Indexer/), 'Arn'] }],
      },
      {
        Rules: [
          { ResourceType: 'index', Resource: ['index/similar-listings/*'], Permission: ['aoss:ReadDocument', 'aoss:DescribeIndex'] },
          collectionRule,
        ],
        Principal: [{ 'Fn::GetAtt': [expect.stringMatching(/^Retriever/), 'Arn'] }],
      },
    ]);
    expect(READ_WRITE_INDEX_PERMISSIONS).toEqual(expect.arrayContaining([...READ_INDEX_PERMISSIONS]));

    for (const id of ['Indexer', 'Retriever']) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp(`^${id}`) }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Index'), 'Arn'] } }] },
      });
    }
  });

  test('an imported role and a function\'s role are principals too', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    index.grantRead(iam.Role.fromRoleArn(stack, 'Imported', 'arn:aws:iam::123456789012:role/search-api', { mutable: false }));
    const [[, policy]] = resourcesOf(Template.fromStack(stack), 'AWS::OpenSearchServerless::AccessPolicy');
    expect(policyDocument(policy.Properties.Policy)[0].Principal).toEqual(['arn:aws:iam::123456789012:role/search-api']);
  });

  test('grantEraseDocuments: search and delete documents (WriteDocument: there is no delete-only permission), nothing on the collection; a read-write principal keeps its entry', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const indexer = role(stack, 'Indexer');
    index.grantReadWrite(indexer);
    index.grantEraseDocuments(role(stack, 'Eraser'));
    index.grantEraseDocuments(indexer); // already allowed to read and write: no entry of its own
    const [[, policy]] = resourcesOf(Template.fromStack(stack), 'AWS::OpenSearchServerless::AccessPolicy');
    const entries = policyDocument(policy.Properties.Policy);
    expect(entries).toHaveLength(2);
    expect(entries[1]).toEqual({
      Rules: [{ ResourceType: 'index', Resource: ['index/similar-listings/*'], Permission: ['aoss:ReadDocument', 'aoss:WriteDocument'] }],
      Principal: [{ 'Fn::GetAtt': [expect.stringMatching(/^Eraser/), 'Arn'] }],
    });
    expect(ERASE_INDEX_PERMISSIONS).toEqual(['aoss:ReadDocument', 'aoss:WriteDocument']);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Eraser') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Index'), 'Arn'] } }] },
    });
  });

  test('grantSwapAlias: an entry per alias that deletes only that alias\'s indexes and moves aliases, beside a read-write entry', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const indexer = role(stack, 'Indexer');
    index.grantReadWrite(indexer);
    index.grantSwapAlias(role(stack, 'Swapper'), 'listings');
    index.grantSwapAlias(role(stack, 'Swapper2'), 'videos');
    const [[, policy]] = resourcesOf(Template.fromStack(stack), 'AWS::OpenSearchServerless::AccessPolicy');
    const entries = policyDocument(policy.Properties.Policy);
    expect(entries).toHaveLength(3);
    expect(entries[1]).toEqual({
      Rules: [
        { ResourceType: 'index', Resource: ['index/similar-listings/listings', 'index/similar-listings/listings-*'], Permission: ['aoss:DescribeIndex', 'aoss:DeleteIndex'] },
        { ResourceType: 'collection', Resource: ['collection/similar-listings'], Permission: ['aoss:DescribeCollectionItems', 'aoss:CreateCollectionItems', 'aoss:UpdateCollectionItems'] },
      ],
      Principal: [{ 'Fn::GetAtt': [expect.stringMatching(/^Swapper[0-9A-F]/), 'Arn'] }],
    });
    expect(entries[2].Rules[0].Resource).toEqual(['index/similar-listings/videos', 'index/similar-listings/videos-*']);
    // Read-write principals still cannot delete an index.
    expect(JSON.stringify(entries[0])).not.toContain('DeleteIndex');
    expect(SWAP_INDEX_PERMISSIONS).toEqual(['aoss:DescribeIndex', 'aoss:DeleteIndex']);
    expect(SWAP_COLLECTION_PERMISSIONS).not.toContain('aoss:DeleteCollectionItems');
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Swapper[0-9A-F]') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Index'), 'Arn'] } }] },
    });
  });

  test('the document eraser: one function per collection, in the VPC, admitted to the VPC endpoint, named in the data access policy', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const eraser = index.documentEraser();
    expect(index.documentEraser()).toBe(eraser);
    const template = Template.fromStack(stack);
    const functions = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { COLLECTION_ENDPOINT: Match.anyValue() } } } });
    expect(Object.keys(functions)).toEqual([expect.stringMatching(/^IndexDocumentEraser[0-9A-F]{8}$/)]);
    const [fn] = Object.values(functions);
    expect(fn.Properties).toMatchObject({
      Environment: { Variables: { COLLECTION_ENDPOINT: { 'Fn::GetAtt': [expect.stringMatching(/^Index[0-9A-F]{8}$/), 'CollectionEndpoint'] } } },
      Timeout: DOCUMENT_ERASER_TIMEOUT.toSeconds(),
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^IndexDocumentEraserSecurityGroup/), 'GroupId'] }] },
    });
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const [[, policy]] = resourcesOf(template, 'AWS::OpenSearchServerless::AccessPolicy');
    expect(policyDocument(policy.Properties.Policy)).toEqual([
      { Rules: [expect.objectContaining({ Permission: [...ERASE_INDEX_PERMISSIONS] })], Principal: [{ 'Fn::GetAtt': [roleId, 'Arn'] }] },
    ]);
    // On the data plane, exactly the collection's API; nothing else of OpenSearch Serverless.
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(statements.filter((st: Json) => JSON.stringify(st.Action).includes('aoss:'))).toEqual([
      { Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Index[0-9A-F]{8}$/), 'Arn'] } },
    ]);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IndexEndpointSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IndexDocumentEraserSecurityGroup'), 'GroupId'] },
    });
  });

  test('without grants there is no data access policy', () => {
    const { stack, props } = setup();
    new VectorIndex(stack, 'Index', props);
    Template.fromStack(stack).resourceCountIs('AWS::OpenSearchServerless::AccessPolicy', 0);
  });
});

describe('indexSettings', () => {
  test('returns the create-index body of an HNSW knn_vector field with the defaults', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    expect(index.indexSettings(768, { spaceType: 'innerproduct' })).toEqual({
      settings: { index: { knn: true } },
      mappings: {
        properties: {
          embedding: {
            type: 'knn_vector',
            dimension: 768,
            method: { name: 'hnsw', engine: 'faiss', space_type: 'innerproduct', parameters: { m: DEFAULT_HNSW_M, ef_construction: DEFAULT_HNSW_EF_CONSTRUCTION } },
          },
        },
      },
    });
    expect(DEFAULT_HNSW_M).toBe(16);
    expect(DEFAULT_HNSW_EF_CONSTRUCTION).toBe(128);
  });

  test('takes the engine, space type, HNSW parameters and field name', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const body = index.indexSettings(16000, { engine: 'lucene', spaceType: 'cosinesimil', m: 32, efConstruction: 256, fieldName: 'image_vector' });
    expect(body.mappings.properties.image_vector).toEqual({
      type: 'knn_vector', dimension: 16000, method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil', parameters: { m: 32, ef_construction: 256 } },
    });
  });

  test.each([0, 16001, 1.5, -3])('fails if dimensions is %p', (dimensions) => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    expect(() => index.indexSettings(dimensions, { spaceType: 'l2' })).toThrow(KitError);
    expect(() => index.indexSettings(dimensions, { spaceType: 'l2' }))
      .toThrow(new RegExp(`VectorIndex Retrieval/Index: indexSettings: dimensions must be a whole number between 1 and 16000, but ${dimensions} was provided`));
  });

  test('fails with every bad option in one error', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const bad = { engine: 'nmslib', spaceType: 'hamming', m: 1, efConstruction: 0, fieldName: 'a.b' } as never;
    expect(() => index.indexSettings(0, bad)).toThrow(new RegExp([
      'dimensions must be a whole number between 1 and 16000, but 0 was provided',
      'spaceType must be one of innerproduct, l2, cosinesimil, but \'hamming\' was provided',
      'engine must be one of faiss, lucene, but \'nmslib\' was provided',
      'm must be a whole number between 2 and 100, but 1 was provided',
      'efConstruction must be a whole number between 2 and 4096, but 0 was provided',
      'fieldName must be .*, but \'a.b\' was provided',
    ].join('; ')));
  });
});

describe('validation', () => {
  test.each(['ab', 'Listings', '1listings', 'listings_v2', 'a'.repeat(33), 'listings!'])('fails if collectionName is %p', (collectionName) => {
    const { stack, props } = setup();
    expect(() => new VectorIndex(stack, 'Index', { ...props, collectionName })).toThrow(KitError);
    expect(() => new VectorIndex(stack, 'Index2', { ...props, collectionName }))
      .toThrow(new RegExp(`VectorIndex Retrieval/Index2: collectionName must be 3 to 32 characters, .*but '${collectionName.replace('!', '\\!')}' was provided`));
  });

  test('accepts names of 3 and 32 characters', () => {
    const { stack, props } = setup();
    expect(() => new VectorIndex(stack, 'Short', { ...props, collectionName: 'abc' })).not.toThrow();
    expect(() => new VectorIndex(stack, 'Long', { ...props, collectionName: `a${'1-'.repeat(15)}b` })).not.toThrow();
  });

  test('fails with every problem in one error', () => {
    const { stack, props } = setup();
    expect(() => new VectorIndex(stack, 'Index', { ...props, collectionName: 'X', purpose: 'bad purpose!', retention: Duration.hours(12), description: '' }))
      .toThrow(/collectionName must be .*; description must be 1 to 1000 characters, but 0 characters were provided; the classification .* is invalid: purpose must be .* but 'bad purpose!' was provided; retention must be a whole number of days, at least 1, but 0.5 days was provided/);
  });

  test('fails if a grantee\'s principal is not an IAM role', () => {
    const { stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    const user = new iam.User(stack, 'Analyst');
    expect(() => index.grantRead(user)).toThrow(KitError);
    expect(() => index.grantRead(user)).toThrow(/VectorIndex Retrieval\/Index: grantRead\(grantee\) needs a grantee whose principal is an IAM role .*but Retrieval\/Analyst, which is not a role, was provided/);
    expect(() => index.grantReadWrite({ grantPrincipal: new iam.AccountRootPrincipal() }))
      .toThrow(/grantReadWrite\(grantee\) needs a grantee whose principal is an IAM role .*but the principal .*:iam::123456789012:root.* was provided/);
    Template.fromStack(stack).resourceCountIs('AWS::OpenSearchServerless::AccessPolicy', 0);
  });

  test('tokens are not validated: a collection name from a parameter, dimensions from a lazy value', () => {
    const { stack, props } = setup();
    const name = new CfnParameter(stack, 'CollectionName', { type: 'String' }).valueAsString;
    const index = new VectorIndex(stack, 'Index', { ...props, collectionName: name });
    const dimensions = Lazy.number({ produce: () => 768 });
    expect(() => index.indexSettings(dimensions, { spaceType: 'l2' })).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::OpenSearchServerless::Collection', { Name: { Ref: 'CollectionName' } });
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>, (p: VectorIndexProps) => VectorIndexProps]>([
    ['defaults', {}, (p) => p],
    ['every option', { destroyOnRemoval: 'true' }, (p) => ({
      ...p, standbyReplicas: false, dataCategory: DataCategory.ANONYMIZED, description: 'Embeddings of listing photos',
      removalPolicy: RemovalPolicy.DESTROY, retention: Duration.days(30),
    })],
  ])('passes the gate with two grants, a client and the document eraser (%s)', (_name, context, options) => {
    const { app, stack, network, props } = setup(context);
    applyGate(app);
    const index = new VectorIndex(stack, 'Index', options(props));
    index.grantReadWrite(role(stack, 'Indexer'));
    index.grantRead(role(stack, 'Retriever'));
    index.documentEraser();
    index.connections.allowDefaultPortFrom(network.securityGroupFor(stack, 'Client', 'retrieval client'));
    expect(() => app.synth()).not.toThrow();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('the GDPR rule would catch the collection without the construct\'s policies', () => {
    const { app, stack, props } = setup();
    const index = new VectorIndex(stack, 'Index', props);
    index.node.tryRemoveChild('EncryptionPolicy');
    index.node.tryRemoveChild('NetworkPolicy');
    const findings = new GdprChecks().validateScope(app).violations.filter((v) => v.ruleName.includes('OpenSearchServerlessProtected'));
    expect(findings.map((v) => v.ruleName)).toEqual(expect.arrayContaining([
      expect.stringContaining('[encryption]'), expect.stringContaining('[network]'),
    ]));
  });
});
