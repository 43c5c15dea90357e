/** Decode a PNG for the picture tests: format, size, and the largest per-channel standard deviation (0 = blank). */
import sharp from 'sharp';

export async function pngStats(file: string): Promise<{ width: number; height: number; format: string; stdev: number }> {
  const meta = await sharp(file).metadata();
  const st = await sharp(file).stats();
  return { width: meta.width!, height: meta.height!, format: meta.format!, stdev: Math.max(...st.channels.slice(0, 3).map((c) => c.stdev)) };
}
