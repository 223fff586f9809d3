import { VisualSearchFigures } from './figures';
import { ColumnAction, ColumnClassification, ColumnDefinition, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/** The descriptor columns d00, d01, … of a descriptor with `dimensions` components. */
export function descriptorColumns(dimensions: number): string[] {
  return Array.from({ length: dimensions }, (_, i) => `d${String(i).padStart(2, '0')}`);
}

/**
 * The query photo's descriptor columns as the request path logs them (classified as in
 * `image_clicks`), so that served searches and their clicks become query → clicked-image pairs.
 */
export function queryDescriptorColumns(dimensions: number): ColumnDefinition[] {
  return photoColumns(descriptorColumns(dimensions), 'query photo');
}

function photoColumns(descriptor: readonly string[], what: string): ColumnDefinition[] {
  return descriptor.map((name, i) => ({
    name,
    type: 'double',
    classification: C.QUASI_IDENTIFIER,
    action: A.KEEP,
    comment: `Component ${i} of the ${what}'s pixel descriptor. The photo may show faces, so it is personal data; kept because the encoder learns from it`,
  }));
}

/**
 * The data chapter 2 needs: the catalogue of user-uploaded images (what the encoder learns from
 * and the indexing pipeline embeds) and user–image clicks (query photo → clicked image, the
 * held-out evaluation pairs and the drift baseline).
 *
 * Personal columns: user and owner ids are pseudonymized (the owner's pseudonym allows erasure),
 * the camera serial is dropped, IPs, times and EXIF locations are generalized. The photos'
 * pixel descriptors are quasi-identifiers (a photo may show faces) kept because the encoder
 * learns from them.
 */
export function addVisualSearchDatasets(lake: DataLake, figures: VisualSearchFigures, volumes: Partial<Record<'images' | 'image_clicks', DatasetVolume>> = {}) {
  const descriptor = descriptorColumns(figures.assumptions.descriptorDimensions);

  const images = lake.addDataset('images', {
    description: 'Images users uploaded, with the pixel descriptor the upload service computes',
    volume: volumes.images,
    retention: RowRetention.byTimeColumn('uploaded_at'),
    columns: [
      { name: 'image_id', type: 'string', classification: C.NON_PERSONAL, comment: 'Random id of the image in the catalogue' },
      { name: 'owner_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, comment: 'The uploader; the pseudonym allows erasure' },
      { name: 'uploaded_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
      { name: 'upload_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'camera_serial', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP, comment: 'EXIF body serial number: identifies the owner\'s camera' },
      { name: 'latitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1), comment: 'From the photo\'s EXIF data, ~11 km after rounding' },
      { name: 'longitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1), comment: 'From the photo\'s EXIF data, ~11 km after rounding' },
      ...photoColumns(descriptor, 'image'),
      { name: 'descriptor_norm', type: 'double', classification: C.NON_PERSONAL, comment: 'L2 norm of the descriptor' },
      {
        name: 'near_duplicate_group', type: 'string', classification: C.NON_PERSONAL,
        comment: 'Random id the upload service gives images whose perceptual hashes nearly match (resized or re-encoded copies); the search shows one image per group',
      },
      { name: 'is_private', type: 'boolean', classification: C.NON_PERSONAL, comment: 'The owner\'s visibility setting; the search never shows a private image' },
    ],
  });
  const clicks = lake.addDataset('image_clicks', {
    description: 'Visual searches and the result the user clicked: query photo descriptor and clicked image',
    volume: volumes.image_clicks,
    retention: RowRetention.byTimeColumn('searched_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'client_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'searched_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      ...photoColumns(descriptor, 'query photo'),
      { name: 'descriptor_norm', type: 'double', classification: C.NON_PERSONAL, comment: 'L2 norm of the query descriptor' },
      { name: 'clicked_image_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'position', type: 'bigint', classification: C.NON_PERSONAL, comment: 'Rank of the clicked result' },
    ],
  });
  return { images, clicks };
}
