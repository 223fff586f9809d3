import { erasureWorkflowName } from '../../constructs/data-lake';
import { executionName } from '../../constructs/data-lake/erasure/runtime/submit';
import { DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { formatAudit, parseEraseArguments, waitForErasure } from '../../scripts/erase';
import { KitError } from '../../lib/errors';

const NOW = new Date('2025-03-01T10:00:00.000Z');

describe('npm run erase arguments', () => {
  test('--user-id and --id name identifiers; the other options have defaults', () => {
    expect(parseEraseArguments(['news-feed', '--user-id', 'u 42', '--id', 'owner_id=o=1', '--wait'], {}, NOW)).toEqual({
      blueprint: 'news-feed', subjectIds: { user_id: 'u 42', owner_id: 'o=1' }, requestId: 'erasure-20250301T100000000Z', region: 'eu-west-1', wait: true, receivedAt: undefined,
      status: false,
    });
    // A status check: the request's id, no subject.
    expect(parseEraseArguments(['news-feed', '--status', '--request-id', 'T-1'], {}, NOW)).toMatchObject({ status: true, wait: false, requestId: 'T-1', subjectIds: {} });
    expect(parseEraseArguments(['vs', '--uploader-id', 'x', '--request-id', 'T-1', '--received-at', '2025-02-01', '--region', 'eu-central-1'], { AWS_REGION: 'eu-north-1' }))
      .toMatchObject({ subjectIds: { uploader_id: 'x' }, requestId: 'T-1', receivedAt: '2025-02-01', region: 'eu-central-1', wait: false });
    expect(parseEraseArguments(['vs', '--user-id', 'x'], { AWS_REGION: 'eu-north-1' }).region).toBe('eu-north-1');
  });

  test.each<[string[], RegExp]>([
    [[], /the blueprint comes first/],
    [['--user-id', 'x'], /the blueprint comes first/],
    [['news-feed'], /name the subject by at least one identifier/],
    [['news-feed', '--user-id'], /--user-id needs a value/],
    [['news-feed', '--user-id', 'x', '--user-id', 'y'], /the identifier user_id is given twice/],
    [['news-feed', '--id', 'user_id'], /--id takes <identifier>=<id>/],
    [['news-feed', '--User-Id', 'x'], /'User_Id' is not an identifier name/],
    [['news-feed', 'alice'], /unexpected argument at position 2/],
    [['news-feed', '--status'], /--status needs the request's --request-id/],
    [['news-feed', '--status', '--request-id', 'T-1', '--user-id', 'x'], /--status reads a submitted request's audit: give it --request-id \(and --region\) only/],
    [['news-feed', '--status', '--request-id', 'T-1', '--wait'], /--status reads a submitted request's audit/],
  ])('%j fails, naming the option and never an id', (argv, message) => {
    expect(() => parseEraseArguments(argv)).toThrow(KitError);
    expect(() => parseEraseArguments(argv)).toThrow(message);
    try {
      parseEraseArguments(argv);
    } catch (error) {
      for (const id of ['alice', 'x', 'y']) expect((error as Error).message).not.toContain(` ${id} `);
    }
  });

  test('execution names carry the request id\'s hash and the time, never the id, within the 80 characters Step Functions allows', () => {
    const name = executionName('GDPR ticket 42 for alice@example.com', NOW);
    expect(name).toMatch(/^erase-[0-9a-f]{32}-1740823200000$/);
    expect(name.length).toBeLessThanOrEqual(80);
  });

  test('the workflow is named after the stack, within 80 characters', () => {
    expect(erasureWorkflowName('MlsdNewsFeed')).toBe('MlsdNewsFeed-erasure');
    const long = erasureWorkflowName('A'.repeat(128));
    expect(long).toMatch(/^A{63}-[0-9a-f]{8}-erasure$/);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(erasureWorkflowName('A'.repeat(127))).not.toBe(long);
  });
});

describe('npm run erase output', () => {
  test('an Iceberg store\'s files purge is shown, with what pending means', () => {
    const text = formatAudit('SUCCEEDED', [
      { store: '#request', status: 'succeeded' },
      { store: 'iceberg:events.user_id', status: 'verified', found: '3', purge: 'pending' },
      { store: 'dynamodb:cache', status: 'verified', found: '1' },
    ]);
    expect(text).toContain('  verified      iceberg:events.user_id (3 found), files purge pending\n  verified      dynamodb:cache (1 found)\n');
    expect(text).toMatch(/files purge pending: .*deadline check verifies they are gone from S3$/);
    expect(formatAudit('SUCCEEDED', [{ store: 'dynamodb:cache', status: 'verified', found: '1' }])).not.toContain('purge');
  });

  test('objects erased by expiry show by when they are gone, with what that means, and no count', () => {
    const text = formatAudit('SUCCEEDED', [
      { store: '#request', status: 'succeeded' },
      { store: 's3:curated-files', status: 'verified', goneBy: '2025-03-01T09:00:00.000Z' },
    ]);
    expect(text).toContain('\n  verified      s3:curated-files (expire: gone by 2025-03-01T09:00:00.000Z)\n');
    expect(text).toMatch(/gone by: the objects expire; their lifecycle rules were verified to remove every version by then, before the request's alert date$/);
    expect(text).not.toContain('found');
  });
});

describe('npm run erase --wait', () => {
  /** Clients that answer as Step Functions and DynamoDB would for a request whose first execution continued in a second. */
  function continuedRequest() {
    const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Feed-erasure';
    const execution = (name: string) => `${machine.replace(':stateMachine:', ':execution:')}:${name}`;
    const statuses: Record<string, string[]> = { [execution('erase-1')]: ['SUCCEEDED'], [execution('erase-2')]: ['RUNNING', 'SUCCEEDED'] };
    const described: string[] = [];
    let request = { status: 'running', last_execution: 'erase-2', continued_in: 'erase-2' };
    const store = (status: string, found: string) => ({ request: { S: 'h' }, store: { S: 'dynamodb:pairs' }, status: { S: status }, found: { N: found } });
    const sfn = {
      send: async (command: object) => {
        const input = (command as { input: Record<string, string> }).input;
        if (command instanceof DescribeStateMachineCommand) {
          return { definition: JSON.stringify({ States: { RecordRequest: { Parameters: { TableName: 'Audit' } }, Registry: { Result: { stores: [{}] } } } }) };
        }
        described.push(input.executionArn);
        const queue = statuses[input.executionArn];
        const status = queue.length > 1 ? queue.shift()! : queue[0];
        if (input.executionArn === execution('erase-2') && status === 'SUCCEEDED') request = { status: 'succeeded', last_execution: 'erase-2', continued_in: 'erase-2' };
        return { status };
      },
    };
    const dynamodb = {
      send: async () => ({
        Items: [
          { request: { S: 'h' }, store: { S: '#request' }, ...Object.fromEntries(Object.entries(request).map(([k, v]) => [k, { S: v }])) },
          request.status === 'succeeded' ? store('verified', '150') : store('continued', '100'),
        ],
      }),
    };
    return { clients: { sfn, dynamodb } as unknown as Parameters<typeof waitForErasure>[0], submitted: { executionArn: execution('erase-1'), stateMachineArn: machine }, described, execution };
  }

  test('follows a request from an execution that continued in a new one to the one that ends it', async () => {
    const { clients, submitted, described, execution } = continuedRequest();
    const { status, audit } = await waitForErasure(clients, submitted, 'T-1', { pollMs: 1, untilSecondSweep: true });
    expect(status).toBe('SUCCEEDED');
    expect(described).toEqual([execution('erase-1'), execution('erase-2'), execution('erase-2')]);
    expect(audit.find((a) => a.store === 'dynamodb:pairs')).toMatchObject({ status: 'verified', found: '150' });
  });

  test('a continued store is shown with its count so far and what continued means', () => {
    const text = formatAudit('RUNNING', [{ store: '#request', status: 'running' }, { store: 'dynamodb:pairs', status: 'continued', found: '300' }]);
    expect(text).toContain('continued     dynamodb:pairs (300 found)');
    expect(text).toMatch(/continued: more items than one execution deletes; the next execution of the request goes on from there/);
  });

  test('a raw zone queued for its batch is shown with what queued means', () => {
    const text = formatAudit('RUNNING', [{ store: '#request', status: 'running' }, { store: 's3:raw-zone', status: 'queued' }]);
    expect(text).toContain('queued        s3:raw-zone');
    expect(text).toMatch(/queued: the raw zone's objects are erased by the next raw erasure batch/);
    expect(formatAudit('SUCCEEDED', [{ store: 's3:raw-zone', status: 'verified', found: '3' }])).not.toContain('queued');
  });
});
