/**
 * The local runs' integration suites, one blueprint after another in one file: a local run keeps
 * both cores busy for its few-millisecond stage timeouts, so two at once would starve each other,
 * and a jest worker waiting for the other's turn would sit idle.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
describe('video-recommendation', () => {
  require('./video-recommendation.suite');
});

describe('ad-click-prediction', () => {
  require('./ad-click-prediction.suite');
});

describe('similar-listings', () => {
  require('./similar-listings.suite');
});

describe('news-feed', () => {
  require('./news-feed.suite');
});

describe('harmful-content-detection', () => {
  require('./harmful-content-detection.suite');
});

describe('visual-search', () => {
  require('./visual-search.suite');
});

describe('event-recommendation', () => {
  require('./event-recommendation.suite');
});

describe('video-search', () => {
  require('./video-search.suite');
});

describe('erasure (video-recommendation)', () => {
  require('./erasure.suite');
});
