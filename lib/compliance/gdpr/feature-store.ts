import { isObject } from './json';
import { Json } from './template';

/**
 * Reading AWS::SageMaker::FeatureGroup store configurations.
 *
 * `OnlineStoreConfig` and `OfflineStoreConfig` are untyped (`any`) in the L1 construct, so their
 * keys reach the template exactly as written: CloudFormation only understands PascalCase keys
 * (`EnableOnlineStore`, `SecurityConfig`, ...), and so do these checks.
 */

/**
 * Whether the feature group has an online store. Fails closed: a configuration or an
 * `EnableOnlineStore` that is a token counts as enabled.
 */
export function onlineStoreEnabled(onlineStoreConfig: Json): boolean {
  if (onlineStoreConfig === undefined || onlineStoreConfig === null) {
    return false;
  }
  if (!isObject(onlineStoreConfig)) {
    return true;
  }
  const enabled = onlineStoreConfig.EnableOnlineStore;
  return !(enabled === undefined || enabled === false || enabled === 'false');
}
