import { Duration, Stack, StackProps, aws_events as events } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { FeatureStore, FeatureType } from '../../constructs/feature-store';
import { Network } from '../../constructs/network';
import { BlueprintDefinition } from '../../lib/app';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data side of the kit end to end, until the case-study blueprints compose it: a network,
 * a lake with one dataset of raw click events, and features fed from a stream and from the
 * curated dataset.
 */
export class DataPlatformSampleStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    const purpose = 'sample click-through features';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const clicks = lake.addDataset('clicks', {
      description: 'Ad impressions and clicks as the ad server logs them',
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
        { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        { name: 'event_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
        { name: 'ad_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'clicks_7d', type: 'bigint', classification: C.NON_PERSONAL },
      ],
    });
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    features.addFeatureGroup({
      name: 'user-clicks',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'event_time', type: FeatureType.STRING },
        { name: 'clicks_7d', type: FeatureType.INTEGRAL },
      ],
      onlineTtl: Duration.days(7),
      streaming: { pseudonymizeFields: ['user_id'] },
      batch: { source: clicks, schedule: events.Schedule.cron({ hour: '2', minute: '0' }) },
    });
    features.addOnlineCache({ retention: Duration.days(7), cacheNodeType: 'cache.t4g.small' });
  }
}

export const DATA_PLATFORM_SAMPLE: BlueprintDefinition = {
  id: 'data-platform-sample',
  stackName: 'MlsdDataPlatformSample',
  description: 'mlsd-blueprints: sample of the data side (network, data lake with anonymization, feature store)',
  create: (scope, id, props) => new DataPlatformSampleStack(scope, id, props),
};
