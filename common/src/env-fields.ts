/**
 * zod field types for configuration read from environment variables. Each service still parses its environment once,
 * in its own config module; these only spell the common field shapes once (durations, bounded integers, booleans,
 * address lists), so a bad value gets the same clear message everywhere.
 */
import { z } from 'zod';
import { parseDurationMs } from './duration.ts';
import { parseAddrList } from './redis.ts';

/** "300ms", "30s", "1m", "2h" or a bare number of seconds -> milliseconds */
export const envDuration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDurationMs(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

export const envInt = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

export const envBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** "host:port[,host:port...]" -> endpoints */
export const envAddrList = (what: string) =>
  z.string().transform((v, ctx) => {
    try {
      return parseAddrList(v, what);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
