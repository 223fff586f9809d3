import { Duration, Stack, aws_sqs as sqs } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { FIGURES_METADATA, SIZING_RECORD_METADATA, recordFigures } from '../../lib/app';
import { sizeStream } from '../../lib/sizing';
import { kitApp } from '../support/app';

describe('recordFigures', () => {
  test('writes chapter figures, assumptions (durations in words, fractions as text) and each sizing into the template metadata', () => {
    const stack = new Stack(kitApp(), 'Figures', { env: { region: 'eu-west-1' } });
    new sqs.Queue(stack, 'AnyResource'); // CloudFormation rejects a template without resources
    stack.templateOptions.metadata = { Existing: 'kept' };
    const stream = sizeStream({ peakRecordsPerSecond: 3_000, averageRecordBytes: 200 });
    recordFigures(stack, {
      chapter: { videos: 10_000_000_000, latencyBudget: Duration.millis(200) },
      assumptions: { dailyActiveUsers: 5_000_000, windows: [Duration.hours(4)], peakToAverage: 2.5 },
    }, { 'event stream shards': stream });
    const metadata = Template.fromStack(stack).toJSON().Metadata;
    expect(metadata.Existing).toBe('kept');
    expect(metadata[FIGURES_METADATA]).toEqual({
      chapter: { videos: 10_000_000_000, latencyBudget: '200 millis' },
      assumptions: { dailyActiveUsers: 5_000_000, windows: ['4 hours'], peakToAverage: '2.5' },
    });
    expect(metadata[SIZING_RECORD_METADATA]).toEqual({ 'event stream shards': stream.explanation });
  });
});
