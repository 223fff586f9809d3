/**
 * A Lambda-backed CloudFormation custom resource that answers CloudFormation itself: the request
 * comes with a pre-signed S3 URL, and the function PUTs the result there. A function in the kit's
 * VPC reaches that URL through the S3 gateway endpoint, so no provider framework (a second
 * function outside the VPC) is needed.
 *
 * Every request gets an answer before the function's own timeout: an unanswered request holds the
 * stack for the resource's service timeout. A failure answers FAILED with the error's message, which
 * CloudFormation shows in the stack's events.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { URL } from 'node:url';

/** The request CloudFormation sends (the fields the kit reads). */
export interface CustomResourceRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  /** Absent on Create. */
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
  /** On Update: the properties of the last successful deploy. */
  readonly OldResourceProperties?: Readonly<Record<string, unknown>>;
}

/** What the resource's work returns. */
export interface CustomResourceResult {
  readonly physicalResourceId: string;
  /** Attributes for Fn::GetAtt (strings; CloudFormation caps the whole response at 4 KB). */
  readonly data?: Readonly<Record<string, string>>;
}

/** The answer PUT to the response URL. */
export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Readonly<Record<string, string>>;
}

/** Sends the answer; tests pass their own. */
export type ResponseSender = (url: string, response: CustomResourceResponse) => Promise<void>;

/** Longest reason CloudFormation shows; longer ones are cut. */
const MAX_REASON_LENGTH = 1000;
/** Time kept back from the function's timeout to send a FAILED answer. */
const ANSWER_MARGIN_MS = 10_000;

/** Whether `event` has the fields of a CloudFormation custom resource request. */
export function isCustomResourceRequest(event: unknown): event is CustomResourceRequest {
  const e = event as Partial<CustomResourceRequest> | null;
  return e !== null && typeof e === 'object'
    && (e.RequestType === 'Create' || e.RequestType === 'Update' || e.RequestType === 'Delete')
    && typeof e.ResponseURL === 'string' && typeof e.StackId === 'string' && typeof e.RequestId === 'string'
    && typeof e.LogicalResourceId === 'string' && typeof e.ResourceProperties === 'object' && e.ResourceProperties !== null;
}

/**
 * Runs `work` for the request and answers CloudFormation: SUCCESS with its result, or FAILED with
 * the error's message (also when `work` has not finished `remainingMs() - 10 s` into the call).
 * A failed Create answers with a physical id of its own, so that the Delete CloudFormation sends
 * next can be told apart and ignored.
 */
export async function answerCustomResource(
  event: CustomResourceRequest,
  work: (event: CustomResourceRequest) => Promise<CustomResourceResult>,
  options: { readonly remainingMs: () => number; readonly send?: ResponseSender },
): Promise<CustomResourceResponse> {
  const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
  let response: CustomResourceResponse;
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the resource did not finish before the function\'s timeout; retry the deploy')),
        Math.max(0, options.remainingMs() - ANSWER_MARGIN_MS));
    });
    const result = await Promise.race([work(event), deadline]);
    response = { ...base, Status: 'SUCCESS', PhysicalResourceId: result.physicalResourceId, Data: result.data };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    response = {
      ...base,
      Status: 'FAILED',
      Reason: reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 3)}...` : reason,
      PhysicalResourceId: event.PhysicalResourceId ?? failedCreateId(event),
    };
  } finally {
    clearTimeout(timer);
  }
  await (options.send ?? putResponse)(event.ResponseURL, response);
  return response;
}

/** The physical id of a Create that failed: its Delete is then a no-op. */
export function failedCreateId(event: Pick<CustomResourceRequest, 'LogicalResourceId' | 'RequestId'>): string {
  return `failed-create/${event.LogicalResourceId}/${event.RequestId}`;
}

/** PUT to the pre-signed URL, as S3 expects it (no content type); three tries on a network error or a 5xx. */
export async function putResponse(url: string, response: CustomResourceResponse, retryDelayMs = 500): Promise<void> {
  const body = JSON.stringify(response);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await putOnce(new URL(url), body);
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** attempt));
    }
  }
  throw lastError;
}

function putOnce(url: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // CloudFormation's URLs are https; plain http serves the tests' local server.
    const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
    const req = request(url, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`the response URL answered HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('the response URL did not answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
