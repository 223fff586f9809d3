/**
 * The one way the kit's handlers talk to an OpenSearch Serverless collection: the official client
 * (`@opensearch-project/opensearch`) with its SigV4 signer for the service `aoss`, credentials from
 * the default chain (the function's role in Lambda, the environment in a local run). The serving
 * path's search stages (constructs/serving/runtime/deps.ts) and the vector index's document eraser
 * (constructs/vector-index/runtime/erase-documents.ts) both build their clients here.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Client } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';

export interface SignedOpenSearchOptions {
  /** `https://<id>.<region>.aoss.amazonaws.com`, or `http://127.0.0.1:<port>` in a local run or a test. */
  readonly endpoint: string;
  readonly region: string;
  /**
   * Retries of the client's own transport (connection errors, 502, 503, 504). A caller with a time
   * budget keeps 0; a caller that retries by itself (429 too) keeps 0 and retries around the call.
   */
  readonly maxRetries: number;
}

// One credential chain per container: the provider memoizes and refreshes before expiry.
let credentials: ReturnType<typeof defaultProvider> | undefined;

/** An OpenSearch client whose every request is signed with SigV4 for `aoss`; works over http too. */
export function signedOpenSearchClient(options: SignedOpenSearchOptions): Client {
  credentials ??= defaultProvider();
  const provider = credentials;
  return new Client({
    ...AwsSigv4Signer({ region: options.region, service: 'aoss', getCredentials: () => provider() }),
    node: options.endpoint,
    maxRetries: options.maxRetries,
  });
}
