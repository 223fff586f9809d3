import { StreetViewBlurringFigures } from './figures';
import { ColumnAction, ColumnClassification, ColumnDefinition, DataLake, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/** Columns every image dataset has: what was captured, where and when, and by whom. */
function imageColumns(): ColumnDefinition[] {
  return [
    // Stable id of the capture; a keyed pseudonym still joins the boxes back to the image.
    { name: 'image_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE },
    // The photo shows faces and licence plates: personal data, kept because detecting them is the
    // purpose (see README, "Personal data in the images").
    { name: 'pixels', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP },
    { name: 'width', type: 'bigint', classification: C.NON_PERSONAL },
    { name: 'height', type: 'bigint', classification: C.NON_PERSONAL },
    { name: 'latitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(2) },
    { name: 'longitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(2) },
    { name: 'captured_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
    // The capture vehicle's driver: not needed by any model.
    { name: 'driver_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
  ];
}

/**
 * The data chapter 3 needs: street images with their faces and licence plates boxed by
 * annotators (the detector's training set), and the new street images to blur before publication.
 *
 * Personal columns: the images themselves show faces and licence plates and are kept, because
 * detecting them is the purpose; so are the annotated boxes. Image ids are pseudonymized, capture
 * locations and times generalized, and the capture vehicle's driver is dropped.
 */
export function addStreetViewBlurringDatasets(lake: DataLake, figures: StreetViewBlurringFigures) {
  const annotated = lake.addDataset('svb_annotated_images', {
    description: `Street images with their faces and licence plates boxed by annotators (chapter: ${figures.chapter.annotatedTrainingImages.toLocaleString('en-US')})`,
    retention: RowRetention.byTimeColumn('captured_at'),
    columns: [
      ...imageColumns(),
      // The boxes locate the people and cars in the image they belong to.
      { name: 'boxes', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP },
    ],
  });
  const captures = lake.addDataset('svb_street_images', {
    description: 'New street images to blur before publication, as the capture pipeline lands them',
    retention: RowRetention.byTimeColumn('captured_at'),
    columns: imageColumns(),
  });
  return { annotated, captures };
}
