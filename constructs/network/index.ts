export * from './network';
export { DEFAULT_GATEWAY_ENDPOINTS, DEFAULT_INTERFACE_ENDPOINTS } from './endpoints';
export { DEFAULT_CIDR, DEFAULT_MAX_AZS, DEFAULT_SUBNET_CIDR_MASK } from './validation';
