/**
 * Annotations a person (or `kubectl flashsale promote|abort`) puts on a FlashSale to steer a blue-green rollout.
 * The value is the time of the request (RFC 3339), so asking twice is two distinct changes the operator sees.
 */
import { FLASHSALE_GROUP } from './flashsale-spec.ts';

/** Promote the preview colour now (skip the remaining analysis). */
export const PROMOTE_ANNOTATION = `${FLASHSALE_GROUP}/promote`;
/** Abort the rollout: traffic stays on (or returns to) the active colour. */
export const ABORT_ANNOTATION = `${FLASHSALE_GROUP}/abort`;
/** "true": a blue-green rollout stops before promotion (the preview keeps running) until removed or promoted. */
export const PAUSE_ROLLOUT_ANNOTATION = `${FLASHSALE_GROUP}/pause-rollout`;
