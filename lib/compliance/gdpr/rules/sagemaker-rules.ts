import { GdprRule } from '../rule';

export const SAGEMAKER_RULES: readonly GdprRule[] = [];
