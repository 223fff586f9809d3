import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/**
 * The data chapter 7 needs, declared in `lake`: the ranking log (each event shown, the features the
 * ranker used, registered or not: the training data and the monitor's baseline) and the event
 * catalogue (the event features' batch source). Personal columns are anonymized on the way into the
 * curated tables: the user id is pseudonymized, the device id dropped, and the IP, home coordinates,
 * times and the location features that would give the home back are generalized; events and their
 * venues (public places) are not personal.
 */
export function addEventRecommendationDatasets(lake: DataLake, volumes: Partial<Record<'ranking_log', DatasetVolume>> = {}) {
  const hourly = Generalization.truncateTimestamp('hour');
  const rankingLog = lake.addDataset('ranking_log', {
    description: 'Events shown to users by the ranking service, with the features it used and whether the user registered',
    volume: volumes.ranking_log,
    retention: RowRetention.byTimeColumn('impression_time'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'device_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      // Home coordinates: one decimal (~11 km) leaves the city, not the street.
      { name: 'user_latitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1) },
      { name: 'user_longitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1) },
      { name: 'impression_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: hourly },
      { name: 'event_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'event_category', type: 'string', classification: C.NON_PERSONAL },
      // Distances and travel times to known venues would triangulate the home: kept coarse, whole km and 5-minute steps.
      { name: 'distance_km', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(0) },
      { name: 'travel_time_min', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(5) },
      // With the event's start, the exact time to the event gives the impression time back: whole hours, like impression_time.
      { name: 'hours_to_event', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(0) },
      { name: 'price', type: 'double', classification: C.NON_PERSONAL },
      { name: 'friends_registered', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'host_popularity', type: 'double', classification: C.NON_PERSONAL },
      { name: 'user_registrations_30d', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'category_affinity', type: 'double', classification: C.NON_PERSONAL },
      { name: 'registered', type: 'bigint', classification: C.NON_PERSONAL, comment: 'label: 1 if the user registered for the event' },
    ],
  });
  const eventCatalogue = lake.addDataset('events', {
    description: 'Upcoming events as the event service publishes them (venues are public places)',
    retention: RowRetention.byTimeColumn('updated_at'),
    columns: [
      { name: 'event_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'event_category', type: 'string', classification: C.NON_PERSONAL },
      { name: 'venue_latitude', type: 'double', classification: C.NON_PERSONAL },
      { name: 'venue_longitude', type: 'double', classification: C.NON_PERSONAL },
      { name: 'starts_at', type: 'timestamp', classification: C.NON_PERSONAL },
      { name: 'price', type: 'double', classification: C.NON_PERSONAL },
      { name: 'host_popularity', type: 'double', classification: C.NON_PERSONAL },
      { name: 'registrations_total', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'updated_at', type: 'timestamp', classification: C.NON_PERSONAL },
    ],
  });
  return { rankingLog, eventCatalogue };
}
