/**
 * The fault corpus (issue 12 §1): every case through every command it concerns, in-process through the run*
 * functions the commands call, strict and with --skip-bad-files; the images stated to decode correctly are checked
 * pixel by pixel against a clean reference; two real `mff` runs show the one-line error and the exit code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import sharp from 'sharp';
import { initBackend } from '../../src/backend/init.js';
import { pretrainCommand } from '../../src/commands/pretrain.js';
import { decodeImage } from '../../src/data/image.js';
import { decodeLabelPng } from '../../src/data/seg/labels.js';
import { CASES, bombPng, faultImage, makeCase } from '../fixtures/faults/make.js';
import { formatFaultTable, runFaultCorpus, type FaultRow } from '../fixtures/faults/run.js';
import { tempDir } from '../engine/temp-dirs.js';

const BIN = resolve(__dirname, '../../bin/mff.js');

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

function expectAsStated(rows: FaultRow[]): void {
  const off = rows.filter((r) => !r.asExpected);
  expect(off, formatFaultTable(off)).toEqual([]);
}

describe('fault corpus', () => {
  test('strict: every case × command ends as stated (decoded, or one line naming the file), within seconds', async () => {
    const rows = await runFaultCorpus(tempDir('mff-faults-'));
    expect(rows.length).toBe(CASES.reduce((n, c) => n + c.commands.length, 0));
    expectAsStated(rows);
    for (const r of rows.filter((x) => x.outcome === 'error')) expect(r.seconds, `${r.case} / ${r.command}`).toBeLessThan(10);
    // each error names the faulty file or folder
    for (const c of CASES.filter((x) => x.cls || x.seg)) {
      for (const r of rows.filter((x) => x.case === c.name && x.outcome === 'error')) {
        const target = r.command.startsWith('seg') ? c.seg! : c.cls!;
        expect(r.message, `${r.case} / ${r.command}`).toContain(`/${target}`);
      }
    }
  });

  test('--skip-bad-files: bad files are skipped and counted; bad datasets still stop', async () => {
    const skippable = CASES.filter((c) => c.skippable || c.name === 'root-is-file');
    const rows = await runFaultCorpus(tempDir('mff-faults-skip-'), { skipBadFiles: true, cases: skippable, commands: ['pretrain', 'cls-eval', 'seg-train', 'seg-eval'] });
    expectAsStated(rows);
    expect(rows.filter((r) => r.case !== 'root-is-file').every((r) => /^ok, skipped [12]$/.test(r.outcome) || r.case === 'empty-class-folder')).toBe(true);
    expect(rows.filter((r) => r.case === 'root-is-file').every((r) => r.outcome === 'error')).toBe(true);
  });

  test('the images stated to decode correctly decode to the pixels of a clean reference', async () => {
    const W = 24;
    const H = 16; // not square: a rotation shows
    const ref = await decodeImage(await tmpFile('ref.png', await faultlessPng(W, H)));
    const px = async (name: string) => decodeImage(await tmpFile(`${name}.img`, await faultImage(name, W, H)));
    const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    for (const name of ['png-16bit', 'rgba']) expect(Array.from((await px(name)).data), name).toEqual(Array.from(ref.data));
    const pal = await px('palette-png');
    expect(meanAbs(pal.data, ref.data)).toBeLessThan(4); // 256-colour quantisation
    const cmyk = await px('cmyk-jpeg');
    expect([cmyk.width, cmyk.height]).toEqual([W, H]);
    // JPEG loss (12 on this pattern as sRGB JPEG) + a CMYK round trip without an ICC profile (libvips' default
    // profile both ways, as cv2 has its own naive formula): the picture, not the exact grey levels
    expect(meanAbs(cmyk.data, ref.data)).toBeLessThan(30);
    // grayscale: the stored gray value replicated to R = G = B
    const gray = await px('grayscale');
    const stored = await sharp(await faultImage('grayscale', W, H)).extractChannel(0).raw().toBuffer();
    expect(Array.from(gray.data)).toEqual(Array.from(stored).flatMap((v) => [v, v, v]));
    // EXIF orientation 6: stored H×W (portrait), shown W×H after a 90° clockwise turn
    const exifBytes = await faultImage('exif-rotated', W, H);
    expect((await sharp(exifBytes).metadata()).width).toBe(H);
    const turned = await sharp(exifBytes).rotate().raw().toBuffer({ resolveWithObject: true });
    const exif = await px('exif-rotated');
    expect([exif.width, exif.height]).toEqual([W, H]);
    expect(meanAbs(exif.data, new Uint8Array(turned.data))).toBe(0);
  });

  test('a label PNG bomb is refused from its header, before inflating', () => {
    expect(() => decodeLabelPng(bombPng(60_000, 60_000), 'bomb.png')).toThrow(/bomb\.png: image is 60000x60000 = 3\.60e\+9 pixels, above the decompression-bomb limit/);
  });

  test('mff (real process): one line naming the file, exit 1; with --skip-bad-files it trains through it', async () => {
    const dir = tempDir('mff-faults-cli-');
    const { cls } = await makeCase(dir, CASES.find((c) => c.name === 'zero-byte')!);
    const tiny = ['--cfg-options', 'model.arch={"embedDims":16,"numLayers":1,"numHeads":2,"feedforwardChannels":32}', '--cfg-options', 'model.outIndices=[0]',
      '--cfg-options', 'model.imgSize=16', '--cfg-options', 'data.pipeline.size=16', '--cfg-options', 'batchSize=4', '--cfg-options', 'schedule.epochs=1', '--cfg-options', 'schedule.warmupEpochs=0'];
    const run = (extra: string[]) =>
      spawnSync(process.execPath, [BIN, 'pretrain', '--data', cls, '--work-dir', join(dir, 'wd'), '--quiet', ...tiny, ...extra], { encoding: 'utf8', env: { ...process.env, MFF_BACKEND: 'wasm' }, timeout: 60_000 });
    const t0 = performance.now();
    const strict = run([]);
    expect(strict.status).toBe(1);
    expect(strict.stderr.trim().split('\n')).toEqual([`mff: error: ${join(cls, 'train', 'a', 'x.jpg')}: empty file (0 bytes)`]);
    expect(performance.now() - t0).toBeLessThan(30_000);
    // the flag, through the command's own parser (in-process: a second process start costs seconds here)
    await pretrainCommand().parseAsync(['--data', cls, '--work-dir', join(dir, 'wd'), '--quiet', '--skip-bad-files', ...tiny], { from: 'user' });
    const summary = JSON.parse(readFileSync(join(dir, 'wd', 'summary.json'), 'utf8'));
    // the training split's bad file (pre-flight), then the val split's (the reconstruction grid's fixed images)
    expect(summary.bad_files).toEqual({
      skipped: 2,
      files: [{ file: join(cls, 'train', 'a', 'x.jpg'), reason: 'empty file (0 bytes)' }, { file: join(cls, 'val', 'a', 'x.jpg'), reason: expect.stringMatching(/^cannot decode image/) }],
    });
    expect(summary.dataset.images).toBe(7);
  });
});

let scratch: string | null = null;
async function tmpFile(name: string, bytes: Buffer): Promise<string> {
  scratch ??= tempDir('mff-faults-px-');
  const f = join(scratch, name);
  writeFileSync(f, bytes);
  return f;
}

/** The clean RGB PNG of the pattern every fault image is made from (faultImage seed 99). */
async function faultlessPng(w: number, h: number): Promise<Buffer> {
  // rgba's source with the alpha removed is the clean image
  return sharp(await faultImage('rgba', w, h)).removeAlpha().png().toBuffer();
}

