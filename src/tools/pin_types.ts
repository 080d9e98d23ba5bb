/** The shape of a pinned tool release (src/tools/pins.ts holds the generated values). */

export interface ToolAsset {
  file: string;
  sha256: string | null;
}

export interface ToolPin {
  name: string;
  version: string;
  /** Release download base URL; the mirror variable replaces it. */
  baseUrl: string;
  mirrorVariable: string;
  /** The checksums file next to the assets, for unpinned assets. */
  checksumsFile: string;
  assets: Record<string, ToolAsset>;
}
