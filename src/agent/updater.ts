import { type Fetcher, type TargetFile, Updater, type UpdaterOptions } from 'tuf-js';
import { refusalOf } from './threats.js';

/** What of tuf-js's Updater (private in its types) this class watches. */
interface Internals {
  fetcher: Fetcher;
  trustedSet: Record<string, unknown>;
}

/** The trusted set's methods that verify a downloaded (or cached) metadata file. */
const VERIFYING = ['updateRoot', 'updateTimestamp', 'updateSnapshot', 'updateDelegatedTargets'];

/**
 * tuf-js's Updater (still the TUF engine), whose failures are the agent's coded refusals
 * (src/agent/errors.ts). tuf-js flattens a failed snapshot or targets load into a RuntimeError
 * that keeps only the inner error's text; this class records that inner error as it is thrown (the
 * last failure of a download or a verification since the last download that succeeded), so the
 * refusal is decided by its class, never by reading the text.
 */
export class CodedUpdater extends Updater {
  private inner: unknown;

  constructor(options: UpdaterOptions) {
    super(options);
    const self = this as unknown as Internals;
    const fetcher = self.fetcher;
    self.fetcher = {
      downloadBytes: async (url, maxLength) => {
        try {
          const bytes = await fetcher.downloadBytes(url, maxLength);
          this.inner = undefined;
          return bytes;
        } catch (error) {
          this.inner = error;
          throw error;
        }
      },
      downloadFile: (url, maxLength, handler) => fetcher.downloadFile(url, maxLength, handler),
    };
    const set = self.trustedSet;
    for (const method of VERIFYING) {
      const verify = set[method] as (...args: unknown[]) => unknown;
      set[method] = (...args: unknown[]) => {
        try {
          return verify.apply(set, args);
        } catch (error) {
          this.inner = error;
          throw error;
        }
      };
    }
  }

  private async coded<T>(step: () => Promise<T>): Promise<T> {
    this.inner = undefined;
    try {
      return await step();
    } catch (error) {
      throw refusalOf(error, this.inner);
    }
  }

  override refresh(): Promise<void> {
    return this.coded(() => super.refresh());
  }

  override getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    return this.coded(() => super.getTargetInfo(targetPath));
  }

  override downloadTarget(
    targetInfo: TargetFile,
    filePath?: string,
    targetBaseUrl?: string,
  ): Promise<string> {
    return this.coded(() => super.downloadTarget(targetInfo, filePath, targetBaseUrl));
  }
}
