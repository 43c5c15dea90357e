/**
 * A small RGB canvas for the pictures (reconstruction grids, segmentation comparisons): blit images with integer
 * nearest-neighbour upscaling (patches and label pixels stay sharp), fill rectangles, then write a PNG with text
 * labels drawn by sharp (librsvg, as the plots in engine/plot.ts).
 */
import sharp from 'sharp';
import { writeFileAtomic } from './checkpoint.js';

export type Rgb = readonly [number, number, number] | readonly number[];

/** An 8-bit RGB image, row-major HWC. */
export interface RgbPixels {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface TextLabel {
  text: string;
  /** Left (anchor 'start') or centre (anchor 'middle') x, and the baseline y, in canvas pixels. */
  x: number;
  y: number;
  size?: number;
  anchor?: 'start' | 'middle';
  bold?: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class Canvas {
  readonly data: Uint8Array;
  private readonly labels: TextLabel[] = [];

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Error(`Canvas: bad size ${width}x${height}`);
    this.data = new Uint8Array(width * height * 3);
    this.fill(0, 0, width, height, background);
  }

  /** Fill the rectangle [x, x+w) × [y, y+h) (clipped to the canvas). */
  fill(x: number, y: number, w: number, h: number, color: Rgb): void {
    for (let r = Math.max(0, y); r < Math.min(this.height, y + h); r++) {
      for (let c = Math.max(0, x); c < Math.min(this.width, x + w); c++) {
        const o = (r * this.width + c) * 3;
        this.data[o] = color[0];
        this.data[o + 1] = color[1];
        this.data[o + 2] = color[2];
      }
    }
  }

  /** Copy `img` with its top-left corner at (x, y), each pixel as a scale × scale block. */
  blit(img: RgbPixels, x: number, y: number, scale = 1): void {
    if (!Number.isInteger(scale) || scale < 1) throw new Error(`Canvas.blit: scale must be a positive integer, got ${scale}`);
    if (x < 0 || y < 0 || x + img.width * scale > this.width || y + img.height * scale > this.height) {
      throw new Error(`Canvas.blit: a ${img.width}x${img.height} image ×${scale} at (${x}, ${y}) does not fit the ${this.width}x${this.height} canvas`);
    }
    for (let r = 0; r < img.height * scale; r++) {
      const src = Math.floor(r / scale) * img.width;
      const dst = ((y + r) * this.width + x) * 3;
      for (let c = 0; c < img.width * scale; c++) {
        const s = (src + Math.floor(c / scale)) * 3;
        const d = dst + c * 3;
        this.data[d] = img.data[s];
        this.data[d + 1] = img.data[s + 1];
        this.data[d + 2] = img.data[s + 2];
      }
    }
  }

  text(label: TextLabel): void {
    this.labels.push(label);
  }

  /** Encode as PNG (labels drawn over the pixels). */
  async png(): Promise<Buffer> {
    let img = sharp(this.data, { raw: { width: this.width, height: this.height, channels: 3 } });
    if (this.labels.length) {
      const svg = [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" font-family="DejaVu Sans, sans-serif">`,
        ...this.labels.map((l) =>
          `<text x="${l.x}" y="${l.y}" font-size="${l.size ?? 13}" text-anchor="${l.anchor ?? 'start'}"${l.bold ? ' font-weight="bold"' : ''} fill="#111">${esc(l.text)}</text>`),
        '</svg>',
      ].join('\n');
      img = img.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
    }
    return img.png().toBuffer();
  }

  /** Write the PNG atomically, naming the file when rendering fails. */
  async writePng(file: string): Promise<void> {
    let buf: Buffer;
    try {
      buf = await this.png();
    } catch (e) {
      throw new Error(`${file}: rendering the picture failed (${(e as Error).message})`);
    }
    writeFileAtomic(file, buf);
  }
}
