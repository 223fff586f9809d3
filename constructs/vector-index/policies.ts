/**
 * The JSON documents of OpenSearch Serverless policies, as the service defines them: an
 * encryption policy is one object, network and data access policies are lists of entries.
 * Values may be CDK tokens (a key ARN, an endpoint id, a role ARN); `Stack.toJsonString` turns
 * the documents into template strings.
 */

/** A rule of a security policy: which resources of a type it covers. */
export interface SecurityPolicyRule {
  readonly ResourceType: 'collection' | 'dashboard';
  readonly Resource: string[];
}

/** An encryption security policy under a customer-managed key. */
export interface EncryptionPolicyDocument {
  readonly Rules: SecurityPolicyRule[];
  readonly AWSOwnedKey: false;
  readonly KmsARN: string;
}

/** One entry of a network security policy that admits traffic only from VPC endpoints. */
export interface NetworkPolicyEntry {
  readonly Rules: SecurityPolicyRule[];
  readonly AllowFromPublic: false;
  readonly SourceVPCEs: string[];
}

/** A rule of a data access policy entry. */
export interface DataAccessRule {
  readonly ResourceType: 'index' | 'collection';
  readonly Resource: string[];
  readonly Permission: string[];
}

/** One entry of a data access policy: permissions for a list of principals. */
export interface DataAccessPolicyEntry {
  readonly Rules: DataAccessRule[];
  readonly Principal: string[];
}

/** Index permissions of `grantReadWrite`. */
export const READ_WRITE_INDEX_PERMISSIONS: readonly string[] = [
  'aoss:ReadDocument',
  'aoss:WriteDocument',
  'aoss:CreateIndex',
  'aoss:DescribeIndex',
  'aoss:UpdateIndex',
];

/** Index permissions of `grantRead`. */
export const READ_INDEX_PERMISSIONS: readonly string[] = ['aoss:ReadDocument', 'aoss:DescribeIndex'];

/**
 * Index permissions of `grantEraseDocuments`: search for documents and delete them by id. OpenSearch
 * Serverless has no permission for deleting documents alone: `aoss:WriteDocument` covers
 * `DELETE <index>/_doc/<id>` and `POST <index>/_bulk` with every document write (AWS documentation,
 * "Supported operations and plugins in Amazon OpenSearch Serverless").
 */
export const ERASE_INDEX_PERMISSIONS: readonly string[] = ['aoss:ReadDocument', 'aoss:WriteDocument'];

/**
 * Index permissions of `grantSwapAlias` on an alias's indexes (`<alias>` and `<alias>-*`): list them
 * (`GET _cat/indices`) and delete them (`DELETE <index>`); it writes no document.
 */
export const SWAP_INDEX_PERMISSIONS: readonly string[] = ['aoss:DescribeIndex', 'aoss:DeleteIndex'];

/**
 * Collection permissions of `grantSwapAlias`: read an alias (`GET _alias/<alias>`, DescribeCollectionItems)
 * and move it (`POST _aliases`, which the AWS table lists under CreateCollectionItems; the same
 * request removes the alias from the previous index, which UpdateCollectionItems covers). Not
 * DeleteCollectionItems: the swap never deletes an alias by itself (deleting an index drops its aliases).
 */
export const SWAP_COLLECTION_PERMISSIONS: readonly string[] = ['aoss:DescribeCollectionItems', 'aoss:CreateCollectionItems', 'aoss:UpdateCollectionItems'];

/** A principal allowed to move one alias: see {@link SWAP_INDEX_PERMISSIONS}. */
export interface AliasSwapper {
  readonly principal: string;
  readonly alias: string;
}

/** Collection permissions of the read and read-write grants: list the collection's indexes. */
export const COLLECTION_PERMISSIONS: readonly string[] = ['aoss:DescribeCollectionItems'];

/** The IAM action that lets a principal call the collection's data plane at all. */
export const DATA_PLANE_ACTION = 'aoss:APIAccessAll';

function collectionResource(collectionName: string): string[] {
  return [`collection/${collectionName}`];
}

/** Encrypts exactly the collection `collectionName` with the customer key `kmsArn`. */
export function encryptionPolicy(collectionName: string, kmsArn: string): EncryptionPolicyDocument {
  return {
    Rules: [{ ResourceType: 'collection', Resource: collectionResource(collectionName) }],
    AWSOwnedKey: false,
    KmsARN: kmsArn,
  };
}

/** Admits traffic to the collection's endpoint and its Dashboards endpoint only from `vpcEndpointId`. */
export function networkPolicy(collectionName: string, vpcEndpointId: string): NetworkPolicyEntry[] {
  return [{
    Rules: [
      { ResourceType: 'collection', Resource: collectionResource(collectionName) },
      { ResourceType: 'dashboard', Resource: collectionResource(collectionName) },
    ],
    AllowFromPublic: false,
    SourceVPCEs: [vpcEndpointId],
  }];
}

function dataAccessEntry(collectionName: string, indexPermissions: readonly string[], principals: readonly string[], collectionPermissions = COLLECTION_PERMISSIONS): DataAccessPolicyEntry {
  return {
    Rules: [
      { ResourceType: 'index', Resource: [`index/${collectionName}/*`], Permission: [...indexPermissions] },
      ...(collectionPermissions.length > 0 ? [{ ResourceType: 'collection' as const, Resource: collectionResource(collectionName), Permission: [...collectionPermissions] }] : []),
    ],
    Principal: [...principals],
  };
}

/**
 * The data access policy for the principals granted so far (and one entry per alias swapper): one entry for read-write principals,
 * one for read-only principals (a principal granted both appears in the read-write entry only), and
 * one for document erasers (search and delete documents; nothing on the collection itself), which
 * leaves out read-write principals, whose entry already allows both.
 */
export function dataAccessPolicy(
  collectionName: string, readWrite: readonly string[], read: readonly string[], erase: readonly string[] = [], swap: readonly AliasSwapper[] = [],
): DataAccessPolicyEntry[] {
  const readOnly = read.filter((p) => !readWrite.includes(p));
  const erasers = erase.filter((p) => !readWrite.includes(p));
  return [
    ...(readWrite.length > 0 ? [dataAccessEntry(collectionName, READ_WRITE_INDEX_PERMISSIONS, readWrite)] : []),
    ...(readOnly.length > 0 ? [dataAccessEntry(collectionName, READ_INDEX_PERMISSIONS, readOnly)] : []),
    ...(erasers.length > 0 ? [dataAccessEntry(collectionName, ERASE_INDEX_PERMISSIONS, erasers, [])] : []),
    // One entry per alias: a swapper deletes only the indexes of its alias (`<alias>` from before the alias, and the runs').
    ...swap.map(({ principal, alias }) => ({
      Rules: [
        { ResourceType: 'index' as const, Resource: [`index/${collectionName}/${alias}`, `index/${collectionName}/${alias}-*`], Permission: [...SWAP_INDEX_PERMISSIONS] },
        { ResourceType: 'collection' as const, Resource: collectionResource(collectionName), Permission: [...SWAP_COLLECTION_PERMISSIONS] },
      ],
      Principal: [principal],
    })),
  ];
}
