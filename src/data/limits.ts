/** The decompression-bomb limit: images whose header promises more pixels are refused before decoding. */

/** PIL's DecompressionBombError threshold (2 × Image.MAX_IMAGE_PIXELS); env MFF_MAX_IMAGE_PIXELS overrides. */
export const DEFAULT_MAX_IMAGE_PIXELS = 178_956_970;

export function maxImagePixels(): number {
  const env = process.env.MFF_MAX_IMAGE_PIXELS;
  if (env === undefined || env === '') return DEFAULT_MAX_IMAGE_PIXELS;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`MFF_MAX_IMAGE_PIXELS must be a positive integer, got '${env}'`);
  return n;
}

/** Refuse an image whose header promises more pixels than the limit (before anything is allocated). */
export function checkPixels(file: string, width: number, height: number): void {
  const limit = maxImagePixels();
  if (width * height > limit) {
    throw new Error(
      `${file}: image is ${width}x${height} = ${(width * height).toExponential(2)} pixels, above the decompression-bomb limit of ` +
        `${limit} pixels (raise MFF_MAX_IMAGE_PIXELS if the image is genuine)`,
    );
  }
}
