/**
 * The named errors every store's eraser shares (the erasure workflow records an error's name in the
 * store's audit, never its message, and fails the store on these): an entry it cannot act on, and
 * data of the subject still there after the delete.
 */

/** The store entry or payload is not one the eraser can act on; the message names fields, never values. */
export class InvalidStoreSpecError extends Error {
  override readonly name = 'InvalidStoreSpec';
}

/** Data of the subject is still there after the delete (e.g. written back meanwhile). */
export class NotVerifiedError extends Error {
  override readonly name = 'NotVerified';
}
