/**
 * Reads a project file by its root-relative path; null when it does not exist. Planners read
 * through it and never touch the file system themselves (src/infra/project-reader.ts is the real one).
 */
export type ReadFile = (relativePath: string) => Promise<string | null>;
