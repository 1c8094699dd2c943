/** Error texts kept in a queue row are cut to 500 characters: a row is not a log. */
export function shortError(error: string): string {
  return error.length > 500 ? `${error.slice(0, 497)}...` : error;
}
