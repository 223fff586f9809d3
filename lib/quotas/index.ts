export * from './defaults';
export * from './quota-needs';
export * from './readme-section';
