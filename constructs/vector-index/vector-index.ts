import * as path from 'path';
import { registerPhysicalName } from '../../lib/app/physical-names';
import {
  Duration, Lazy, RemovalPolicy, Stack,
  aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_opensearchserverless as aoss,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classify } from '../../lib/classification';
import { SecureFunction, resolveRemovalPolicy } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { KnnIndexBody, VectorFieldOptions, knnIndexBody, vectorFieldProblems } from './index-settings';
import { AliasSwapper, DATA_PLANE_ACTION, dataAccessPolicy, encryptionPolicy, networkPolicy } from './policies';
import { DEFAULT_VECTOR_INDEX_CATEGORY, validateVectorIndexProps } from './validation';

/** Standby replicas by default: enabled, so that the collection survives the loss of an Availability Zone. */
export const DEFAULT_STANDBY_REPLICAS = true;

/** The collection type: vector search (k-NN over `knn_vector` fields). */
export const COLLECTION_TYPE = 'VECTORSEARCH';

/** Properties of a {@link VectorIndex}. */
export interface VectorIndexProps {
  /**
   * Name of the collection: 3 to 32 characters, a lowercase letter followed by lowercase letters,
   * digits or hyphens, unique in the account and region. The security policies, the data access
   * policy and the VPC endpoint are named after it. It must be a literal for the compliance gate
   * to match the policies to the collection. Changing it replaces the collection (an empty one).
   */
  readonly collectionName: string;

  /** Where clients run: the VPC endpoint of the collection goes into `network.subnets` of `network.vpc`. */
  readonly network: IWorkloadNetwork;

  /**
   * Customer-managed key that encrypts the collection (the data lake's key). It is bound to the
   * collection when the collection is created and cannot be changed afterwards.
   */
  readonly encryptionKey: kms.IKey;

  /** Why the embeddings are processed (GDPR purpose limitation), e.g. `similar listings`; tagged on the collection. */
  readonly purpose: string;

  /**
   * How long an embedding may be kept, tagged on the collection. OpenSearch Serverless does not
   * expire documents: the writer must delete or re-index documents older than this.
   */
  readonly retention: Duration;

  /**
   * What the embeddings are, from the GDPR point of view. Embeddings of people's content (photos,
   * videos, listings, behaviour) single people out and are personal data.
   *
   * @default DEFAULT_VECTOR_INDEX_CATEGORY (DataCategory.PSEUDONYMIZED)
   */
  readonly dataCategory?: DataCategory;

  /**
   * Keep standby replicas in another Availability Zone. Disabling them halves the minimum
   * capacity (and cost) but an AZ outage makes the collection unavailable. Fixed at creation.
   *
   * @default DEFAULT_STANDBY_REPLICAS (true)
   */
  readonly standbyReplicas?: boolean;

  /**
   * Description of the collection, 1 to 1000 characters.
   *
   * @default - names the construct path and the purpose
   */
  readonly description?: string;

  /**
   * What happens to the collection and its encryption policy when they leave the stack: RETAIN or
   * DESTROY. DESTROY takes effect only when the app sets `-c destroyOnRemoval=true`; otherwise it
   * is reverted to RETAIN with a warning. The network policy, the data access policy and the VPC
   * endpoint are always deleted, so a retained collection stays encrypted and unreachable.
   *
   * @default RemovalPolicy.RETAIN (DESTROY when the app sets `destroyOnRemoval`)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * How long the document eraser may run: its waits for OpenSearch Serverless to show deletes (at
 * most 12 of 10 s in a row, and the verifying one; runtime/erase-documents.ts) with room for
 * several pages of searches and deletes.
 */
export const DOCUMENT_ERASER_TIMEOUT = Duration.minutes(5);

type Access = 'readWrite' | 'read' | 'erase';

/** The principal as an IAM role, when it is one (a role of this app, an imported role, a function's role). */
function roleOf(principal: iam.IPrincipal): iam.IRole | undefined {
  const candidate = principal as Partial<iam.IRole>;
  return typeof candidate.roleArn === 'string' && typeof candidate.roleName === 'string' ? principal as iam.IRole : undefined;
}

/**
 * An approximate-nearest-neighbour index of embeddings, for retrieval: visual search, video
 * search, similar listings, candidate generation. An OpenSearch Serverless collection of type
 * VECTORSEARCH, encrypted with the customer key, reachable only through an OpenSearch Serverless
 * VPC endpoint in the workload network (its Dashboards too), with standby replicas.
 *
 * Principals get access with {@link grantRead} and {@link grantReadWrite}: IAM access to the
 * collection's data plane and an entry in the collection's one data access policy. Clients also
 * need network access to the endpoint: `index.connections.allowDefaultPortFrom(client)`.
 * Indexes are created through the data plane by a writer, with the body of {@link indexSettings}.
 *
 * ```ts
 * const index = new VectorIndex(this, 'Listings', {
 *   collectionName: 'similar-listings', network, encryptionKey: lake.encryptionKey,
 *   purpose: 'similar listings', retention: Duration.days(365),
 * });
 * index.grantReadWrite(indexer);
 * index.grantRead(retriever);
 * index.connections.allowDefaultPortFrom(retriever);
 * ```
 */
export class VectorIndex extends Construct implements ec2.IConnectable {
  /** Name of the collection. */
  public readonly collectionName: string;
  /** ARN of the collection. */
  public readonly collectionArn: string;
  /** Id of the collection. */
  public readonly collectionId: string;
  /** HTTPS endpoint of the collection's OpenSearch API, reachable through the VPC endpoint only. */
  public readonly collectionEndpoint: string;
  /** HTTPS endpoint of the collection's OpenSearch Dashboards, reachable through the VPC endpoint only. */
  public readonly dashboardEndpoint: string;
  /** Id (`vpce-...`) of the OpenSearch Serverless VPC endpoint the network policy admits. */
  public readonly vpcEndpointId: string;
  /** The classification the collection carries as tags. */
  public readonly classification: DataClassification;
  /** Network access to the VPC endpoint: `connections.allowDefaultPortFrom(client)` admits a client on HTTPS. */
  public readonly connections: ec2.Connections;
  /** The security group of the VPC endpoint. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** The collection. */
  public readonly collection: aoss.CfnCollection;
  /** The encryption policy: the collection under the customer key. */
  public readonly encryptionPolicy: aoss.CfnSecurityPolicy;
  /** The network policy: the collection and its Dashboards only through the VPC endpoint. */
  public readonly networkPolicy: aoss.CfnSecurityPolicy;

  private readonly principals: Record<Access, string[]> = { readWrite: [], read: [], erase: [] };
  private readonly swappers: AliasSwapper[] = [];
  private dataAccess?: aoss.CfnAccessPolicy;
  private eraser?: SecureFunction;
  private readonly network: IWorkloadNetwork;
  private readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: VectorIndexProps) {
    super(scope, id);

    let subnets: ec2.SelectedSubnets | string;
    try {
      subnets = props.network.vpc.selectSubnets({ ...props.network.subnets, onePerAz: true });
    } catch (error) {
      subnets = `the selection failed: ${(error as Error).message}`;
    }
    const failures = [...validateVectorIndexProps({ props, subnets }), ...environmentProblems(this, { encryptionKey: props.encryptionKey, network: props.network.vpc })];
    if (failures.length > 0 || typeof subnets === 'string') {
      throw new KitError(`VectorIndex ${this.node.path}: ${failures.join('; ')}`);
    }

    const name = props.collectionName;
    registerPhysicalName(this, 'OpenSearch Serverless collection', name, 'collectionName');
    const stack = Stack.of(this);
    this.network = props.network;
    this.encryptionKey = props.encryptionKey;
    const removalPolicy = resolveRemovalPolicy(this, props.removalPolicy);
    this.collectionName = name;
    this.classification = { category: props.dataCategory ?? DEFAULT_VECTOR_INDEX_CATEGORY, purpose: props.purpose, retention: props.retention };

    this.securityGroup = props.network.securityGroupFor(this, 'EndpointSecurityGroup',
      `OpenSearch Serverless VPC endpoint of ${this.node.path}: admits the clients allowed through connections`);
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(443) });

    const endpoint = new aoss.CfnVpcEndpoint(this, 'VpcEndpoint', {
      name,
      vpcId: props.network.vpc.vpcId,
      subnetIds: subnets.subnetIds,
      securityGroupIds: [this.securityGroup.securityGroupId],
    });
    this.vpcEndpointId = endpoint.attrId;

    this.encryptionPolicy = new aoss.CfnSecurityPolicy(this, 'EncryptionPolicy', {
      name,
      type: 'encryption',
      description: `Encrypts collection ${name} with the customer-managed key of ${this.node.path}`,
      policy: stack.toJsonString(encryptionPolicy(name, props.encryptionKey.keyArn)),
    });
    this.encryptionPolicy.applyRemovalPolicy(removalPolicy);

    this.networkPolicy = new aoss.CfnSecurityPolicy(this, 'NetworkPolicy', {
      name,
      type: 'network',
      description: `Collection ${name} and its Dashboards only through the VPC endpoint of ${this.node.path}`,
      policy: stack.toJsonString(networkPolicy(name, endpoint.attrId)),
    });

    this.collection = new aoss.CfnCollection(this, 'Resource', {
      name,
      type: COLLECTION_TYPE,
      standbyReplicas: (props.standbyReplicas ?? DEFAULT_STANDBY_REPLICAS) ? 'ENABLED' : 'DISABLED',
      description: props.description ?? `Vector index ${this.node.path}: ${props.purpose}`.slice(0, 1000),
    });
    this.collection.addResourceDependency(this.encryptionPolicy, 'the service refuses a collection no encryption policy covers');
    this.collection.addResourceDependency(this.networkPolicy, 'the collection is never reachable but through the VPC endpoint');
    this.collection.applyRemovalPolicy(removalPolicy);
    classify(this.collection, this.classification, this.node.path);

    this.collectionArn = this.collection.attrArn;
    this.collectionId = this.collection.attrId;
    this.collectionEndpoint = this.collection.attrCollectionEndpoint;
    this.dashboardEndpoint = this.collection.attrDashboardEndpoint;
  }

  /**
   * Lets the grantee read documents and describe indexes: `aoss:APIAccessAll` on the collection
   * in its IAM policy, and an entry in the data access policy (`aoss:ReadDocument`,
   * `aoss:DescribeIndex` on `index/<collection>/*`, `aoss:DescribeCollectionItems`).
   *
   * @param grantee an IAM role, or a grantable whose principal is one (a function, a job's role):
   *   data access policies name principals by role ARN
   * @throws KitError if the grantee's principal is not an IAM role
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.grant('grantRead', 'read', grantee);
  }

  /**
   * Lets the grantee create, describe and update indexes and read and write documents:
   * `aoss:APIAccessAll` on the collection in its IAM policy, and an entry in the data access
   * policy (`aoss:ReadDocument`, `WriteDocument`, `CreateIndex`, `DescribeIndex`, `UpdateIndex`
   * on `index/<collection>/*`, `aoss:DescribeCollectionItems`).
   *
   * @param grantee an IAM role, or a grantable whose principal is one
   * @throws KitError if the grantee's principal is not an IAM role
   */
  public grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.grant('grantReadWrite', 'readWrite', grantee);
  }

  /**
   * Lets the grantee find documents and delete them (a data subject's erasure): `aoss:APIAccessAll`
   * on the collection in its IAM policy, and an entry in the data access policy
   * (`aoss:ReadDocument`, `aoss:WriteDocument` on `index/<collection>/*`). OpenSearch Serverless
   * has no permission for deleting documents alone; `WriteDocument` is the one `_bulk` deletes need.
   *
   * @param grantee an IAM role, or a grantable whose principal is one
   * @throws KitError if the grantee's principal is not an IAM role
   */
  public grantEraseDocuments(grantee: iam.IGrantable): iam.Grant {
    return this.grant('grantEraseDocuments', 'erase', grantee);
  }

  /**
   * The function that erases a data subject's documents from an index of this collection: given
   * `{ indexName, field, pseudonym }`, it deletes the documents whose field holds the pseudonym and
   * verifies that a search no longer finds them, returning `{ found }` (runtime/erase-documents.ts).
   * The data lake's erasure workflow invokes it for every `vectorIndexDocuments` store of the
   * collection. Created on the first call, one per collection: in the workload network, admitted to
   * the collection's VPC endpoint, granted {@link grantEraseDocuments}.
   */
  public documentEraser(): lambda.IFunction {
    if (this.eraser === undefined) {
      this.eraser = new SecureFunction(this, 'DocumentEraser', {
        entry: path.join(__dirname, 'runtime', 'erase-documents.ts'),
        description: `Erases a data subject's documents from the indexes of vector index ${this.node.path} (collection ${this.collectionName})`,
        encryptionKey: this.encryptionKey,
        network: this.network,
        environment: { COLLECTION_ENDPOINT: this.collectionEndpoint },
        timeout: DOCUMENT_ERASER_TIMEOUT,
        synchronousCaller: 'the data lake\'s erasure workflow (a Lambda task), which receives the error and records the store as failed in the audit',
      });
      this.grantEraseDocuments(this.eraser);
      this.connections.allowDefaultPortFrom(this.eraser, `Document eraser of ${this.node.path}`);
    }
    return this.eraser;
  }

  /**
   * The body of the create-index request (`PUT https://<collectionEndpoint>/<index>`) for an index
   * with one HNSW `knn_vector` field. Indexes live in the data plane, which CloudFormation cannot
   * reach through the VPC-only network policy: a writer (granted {@link grantReadWrite}) creates
   * the index with this body before it writes documents.
   *
   * @param dimensions length of the embeddings, 1 to 16000
   * @throws KitError naming every invalid option
   */
  public indexSettings(dimensions: number, options: VectorFieldOptions): KnnIndexBody {
    const problems = vectorFieldProblems(dimensions, options);
    if (problems.length > 0) {
      throw new KitError(`VectorIndex ${this.node.path}: indexSettings: ${problems.join('; ')}`);
    }
    return knnIndexBody(dimensions, options);
  }

  /**
   * Lets the grantee move alias `alias` between indexes and delete the indexes `alias` and
   * `<alias>-*` (a batch transform's swap to its latest run's index): `aoss:APIAccessAll` on the
   * collection, and an entry of its own in the data access policy (`aoss:DescribeIndex`,
   * `DeleteIndex` on those indexes only; `aoss:DescribeCollectionItems`, `CreateCollectionItems`,
   * `UpdateCollectionItems` on the collection). It reads and writes no document.
   *
   * @param grantee an IAM role, or a grantable whose principal is one
   * @param alias the alias, a literal OpenSearch index name
   * @throws KitError if the grantee's principal is not an IAM role
   */
  public grantSwapAlias(grantee: iam.IGrantable, alias: string): iam.Grant {
    const role = this.roleFor('grantSwapAlias', grantee);
    if (!this.swappers.some((s) => s.principal === role.roleArn && s.alias === alias)) {
      this.swappers.push({ principal: role.roleArn, alias });
    }
    this.dataAccessPolicy();
    return iam.Grant.addToPrincipal({ grantee, actions: [DATA_PLANE_ACTION], resourceArns: [this.collectionArn] });
  }

  private roleFor(method: string, grantee: iam.IGrantable): iam.IRole {
    const role = roleOf(grantee.grantPrincipal);
    if (role === undefined) {
      throw new KitError(`VectorIndex ${this.node.path}: ${method}(grantee) needs a grantee whose principal is an IAM role `
        + '(a role, or a function or job with one), because data access policies name principals by role ARN, '
        + `but ${this.describePrincipal(grantee.grantPrincipal)} was provided`);
    }
    return role;
  }

  private grant(method: string, access: Access, grantee: iam.IGrantable): iam.Grant {
    const role = this.roleFor(method, grantee);
    if (!this.principals[access].includes(role.roleArn)) {
      this.principals[access].push(role.roleArn);
    }
    this.dataAccessPolicy();
    return iam.Grant.addToPrincipal({ grantee, actions: [DATA_PLANE_ACTION], resourceArns: [this.collectionArn] });
  }

  private describePrincipal(principal: iam.IPrincipal): string {
    if (Construct.isConstruct(principal)) {
      return `${principal.node.path}, which is not a role,`;
    }
    return `the principal ${JSON.stringify(Stack.of(this).resolve(principal.policyFragment.principalJson))}`;
  }

  /** The one data access policy of the collection, created by the first grant; its principals accumulate. */
  private dataAccessPolicy(): aoss.CfnAccessPolicy {
    this.dataAccess ??= new aoss.CfnAccessPolicy(this, 'DataAccessPolicy', {
      name: this.collectionName,
      type: 'data',
      description: `Principals granted access to collection ${this.collectionName} by ${this.node.path}`,
      policy: Lazy.string({
        produce: () => Stack.of(this).toJsonString(dataAccessPolicy(this.collectionName, this.principals.readWrite, this.principals.read, this.principals.erase, this.swappers)),
      }),
    });
    return this.dataAccess;
  }
}
