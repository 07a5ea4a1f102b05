/**
 * The CLI's one reader of `process.env` (docs/architecture.md: configuration comes from one module per service):
 * the credential and TLS variables that security.ts parses (the gateway's and processor's own names), FSE_HOME for
 * the session files, and PATH and HOME handed to the children of `flashsale up`. Everything else takes an `Env`.
 */
export type Env = Readonly<Record<string, string | undefined>>;

/** The environment the command was started with. */
export const cliEnv = (): Env => process.env;

/** What every child of `flashsale up` starts from, before the variables of its sale (no secret of the caller's). */
export const childBaseEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
});
