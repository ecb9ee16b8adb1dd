export declare const SUPPORTED_MAJOR: number;
export declare const MINIMUM_SECURE: string;
export declare function runtimeProblem(
  version: string,
  options?: { security?: boolean },
): string | undefined;
