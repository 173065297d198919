/**
 * The one rule for the names of environment variables, secrets and `$KILN_ENV` entries: letters,
 * digits and `_`, not starting with a digit (what POSIX shells accept). Used by the pipeline schema,
 * kiln.config.yml, the settings API and page, and the `$KILN_ENV` reader.
 */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

export const ENV_NAME = new RegExp(ENV_NAME_PATTERN);
