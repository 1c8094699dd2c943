import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Loads a CommonJS package (the AWS SDK, pg) when the component that needs
 * it is created, not when the daemon's modules are loaded: a daemon without
 * uploads or a PostgreSQL catalog never holds them in its heap (3 MiB for
 * the S3 client, 1.5 MiB for pg), and every full GC marks that much less
 * (issue 20). Synchronous, so a component is still created, and a missing
 * package still reported, at start-up, as before.
 */
export function loadOptional<T>(name: string): T {
  return require(name) as T;
}
