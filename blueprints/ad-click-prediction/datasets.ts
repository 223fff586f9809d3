import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data chapter 8 needs, declared in `lake`: the impression log (each ad shown, the features the
 * click model used, clicked or not: the training data and the monitor's baseline) and hourly ad
 * statistics (the ad features' batch source). Personal columns are anonymized on the way into the
 * curated tables: the user id is pseudonymized, the device id dropped, the IP and impression time
 * generalized; the targeting segment (a cohort of at least 1,000 users) is kept. The ad statistics
 * hold no user-level data.
 */
export function addAdClickPredictionDatasets(lake: DataLake, volumes: Partial<Record<'ad_impressions', DatasetVolume>> = {}) {
  const impressions = lake.addDataset('ad_impressions', {
    description: 'Ads shown by the ad server, with the features the click model used and whether the user clicked',
    volume: volumes.ad_impressions,
    retention: RowRetention.byTimeColumn('impression_time'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'device_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      {
        name: 'impression_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE,
        generalization: Generalization.truncateTimestamp('hour'),
      },
      // Segments are targeting cohorts of at least 1,000 users (interest × age band × country): kept as they are.
      { name: 'user_segment', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP, comment: 'targeting cohort of >= 1000 users' },
      { name: 'ad_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'advertiser_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'campaign_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'ad_category', type: 'string', classification: C.NON_PERSONAL },
      { name: 'ad_ctr_7d', type: 'double', classification: C.NON_PERSONAL },
      { name: 'advertiser_ctr_30d', type: 'double', classification: C.NON_PERSONAL },
      { name: 'user_clicks_7d', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'user_impressions_7d', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'hour_of_day', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'clicked', type: 'bigint', classification: C.NON_PERSONAL, comment: 'label: 1 if the user clicked the ad' },
    ],
  });
  const adStats = lake.addDataset('ad_stats', {
    description: 'Hourly aggregates per ad from the ad server: no user-level data',
    retention: RowRetention.byTimeColumn('updated_at'),
    columns: [
      { name: 'ad_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'advertiser_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'campaign_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'ad_category', type: 'string', classification: C.NON_PERSONAL },
      { name: 'ad_ctr_7d', type: 'double', classification: C.NON_PERSONAL },
      { name: 'advertiser_ctr_30d', type: 'double', classification: C.NON_PERSONAL },
      { name: 'updated_at', type: 'timestamp', classification: C.NON_PERSONAL },
    ],
  });
  return { impressions, adStats };
}
