import { isAbsolute, relative } from "node:path";

/** A path as the user would type it from here: relative below the working directory, else absolute. */
export function shownPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
