import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { CustomResourceRequest, CustomResourceResponse, answerCustomResource, isCustomResourceRequest, putResponse } from './custom-resource';

/** A local stand-in for the pre-signed S3 URL: records each PUT; answers the statuses queued. */
class ResponseBucket {
  readonly puts: { method: string; headers: IncomingMessage['headers']; body: string }[] = [];
  readonly statuses: number[] = [];
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
      req.on('end', () => {
        this.puts.push({ method: req.method ?? '', headers: req.headers, body });
        res.statusCode = this.statuses.shift() ?? 200;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/response?X-Amz-Signature=abc`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const request = (url: string, overrides: Partial<CustomResourceRequest> = {}): CustomResourceRequest => ({
  RequestType: 'Create',
  ResponseURL: url,
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1',
  RequestId: 'req-1',
  LogicalResourceId: 'Thing',
  ResourceType: 'Custom::Thing',
  ResourceProperties: { ServiceToken: 'arn' },
  ...overrides,
});

describe('answering CloudFormation', () => {
  let bucket: ResponseBucket;
  let url: string;
  beforeEach(async () => {
    bucket = new ResponseBucket();
    url = await bucket.start();
  });
  afterEach(() => bucket.stop());

  test('SUCCESS: one PUT with an empty content type and the JSON CloudFormation reads', async () => {
    const response = await answerCustomResource(request(url), async () => ({ physicalResourceId: 'config-1', data: { Name: 'config-1' } }), { remainingMs: () => 60_000 });
    expect(bucket.puts).toHaveLength(1);
    expect(bucket.puts[0].method).toBe('PUT');
    expect(bucket.puts[0].headers['content-type']).toBe('');
    expect(JSON.parse(bucket.puts[0].body) as CustomResourceResponse).toEqual({
      Status: 'SUCCESS', PhysicalResourceId: 'config-1', StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1', RequestId: 'req-1', LogicalResourceId: 'Thing', Data: { Name: 'config-1' },
    });
    expect(response.Status).toBe('SUCCESS');
  });

  test('FAILED: the error\'s message as the reason (cut at 1,000 characters), the physical id kept on Update', async () => {
    await answerCustomResource(request(url, { RequestType: 'Update', PhysicalResourceId: 'config-0' }), async () => { throw new Error('x'.repeat(2000)); }, { remainingMs: () => 60_000 });
    const body = JSON.parse(bucket.puts[0].body) as CustomResourceResponse;
    expect([body.Status, body.PhysicalResourceId, body.Reason?.length, body.Reason?.endsWith('...')]).toEqual(['FAILED', 'config-0', 1000, true]);
  });

  test('work that would outlast the function: FAILED 10 s before its timeout instead of holding the stack', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const sent: CustomResourceResponse[] = [];
      const answer = answerCustomResource(request(url), () => new Promise(() => undefined), { remainingMs: () => 15_000, send: async (_u, r) => { sent.push(r); } });
      await jest.advanceTimersByTimeAsync(5_000);
      const response = await answer;
      expect(response).toMatchObject({ Status: 'FAILED', Reason: 'the resource did not finish before the function\'s timeout; retry the deploy', PhysicalResourceId: 'failed-create/Thing/req-1' });
      expect(sent).toEqual([response]);
    } finally {
      jest.useRealTimers();
    }
  });

  test('a 5xx from the URL is tried again; three failures are an error', async () => {
    bucket.statuses.push(503);
    await putResponse(url, { Status: 'SUCCESS', PhysicalResourceId: 'p', StackId: 's', RequestId: 'r', LogicalResourceId: 'l' }, 1);
    expect(bucket.puts).toHaveLength(2);
    bucket.statuses.push(500, 500, 500);
    await expect(putResponse(url, { Status: 'SUCCESS', PhysicalResourceId: 'p', StackId: 's', RequestId: 'r', LogicalResourceId: 'l' }, 1)).rejects.toThrow('the response URL answered HTTP 500');
  });

  test('tells a CloudFormation request from anything else', () => {
    expect(isCustomResourceRequest(request(url))).toBe(true);
    expect(isCustomResourceRequest({ ...request(url), RequestType: 'Replace' })).toBe(false);
    expect(isCustomResourceRequest({ Records: [] })).toBe(false);
    expect(isCustomResourceRequest(null)).toBe(false);
  });
});
