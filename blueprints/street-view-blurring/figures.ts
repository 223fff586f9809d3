import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { checkFigures, positiveDuration, positiveNumber } from '../../lib/sizing';

/** What chapter 3 (Street View blurring) states. */
export interface StreetViewBlurringChapterFigures {
  /** Annotated images (faces and licence plates boxed) available for training (chapter: 1M). */
  readonly annotatedTrainingImages: number;
}

/** What the blueprint assumes where the chapter is silent. */
export interface StreetViewBlurringAssumptions {
  /**
   * New Street View images to blur per day. Assumption: a fleet of a few hundred capture vehicles,
   * each taking on the order of 10,000 images a day, gives about 2M; the chapter gives no number.
   */
  readonly imagesPerDay: number;
  /**
   * Images one batch transform instance (`transformInstanceType`) runs through the detector per
   * second. Assumption: a two-stage detector (ResNet-50 FPN class) on one T4 GPU handles about 8
   * images of a few megapixels per second; measure with a first run and revise.
   */
  readonly imagesPerSecondPerInstance: number;
  /**
   * Time the nightly run has to blur a day's images (the chapter: latency is not an issue; images
   * are published after blurring). Assumption: 12 hours, from the evening export to the next morning.
   */
  readonly batchWindow: Duration;
  /** Instance type of the batch transform: a GPU instance for the detector (T4). */
  readonly transformInstanceType: string;
  /**
   * How long the detected boxes stay in the prediction cache for the publishing service (which blurs
   * the full-resolution images). Assumption: a week, so that a publishing backlog does not lose them.
   */
  readonly predictionTtl: Duration;
}

export type StreetViewBlurringFigures = BlueprintFigures<StreetViewBlurringChapterFigures, StreetViewBlurringAssumptions>;

/** The chapter's figures and the blueprint's assumptions. */
export const STREET_VIEW_BLURRING_FIGURES: StreetViewBlurringFigures = {
  chapter: {
    annotatedTrainingImages: 1_000_000,
  },
  assumptions: {
    imagesPerDay: 2_000_000,
    imagesPerSecondPerInstance: 8,
    batchWindow: Duration.hours(12),
    transformInstanceType: 'ml.g4dn.xlarge',
    predictionTtl: Duration.days(7),
  },
};

/**
 * Fails synthesis, naming the figure, if a figure the stack builds from cannot be used (`who`
 * names the figures in the message, as `<who>.chapter` and `<who>.assumptions`). The sizing
 * functions check the rest.
 */
export function checkStreetViewBlurringFigures(figures: StreetViewBlurringFigures, who: string): void {
  checkFigures(`${who}.chapter`, figures.chapter, [positiveNumber('annotatedTrainingImages')]);
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    positiveNumber('imagesPerDay'), positiveNumber('imagesPerSecondPerInstance'),
    // Blurred images stay fresh at least an hour (the batch transform's shortest TTL).
    positiveDuration('batchWindow'), positiveDuration('predictionTtl', Duration.hours(1)),
  ]);
}
