/** Golden parity with mmpretrain's sin-cos table and the mmseg/mmpretrain bicubic pos-embed resizes (pos-embed.json). */
import { describe, expect, test } from 'vitest';
import { resizePosEmbed, sincosPosEmbed } from '../../src/models/pos-embed.js';
import { f32, loadFixture, relErr, type JsonTensor } from '../helpers/golden.js';

const fx = loadFixture('pos-embed');
const E = fx.expected as Record<string, JsonTensor>;

describe('pos-embed', () => {
  test('sincos (with and without the cls row)', () => {
    const { grid, embed_dims, temperature } = fx.config.sincos;
    const withCls = sincosPosEmbed(grid, embed_dims, true, temperature);
    expect([1, withCls.length / embed_dims, embed_dims]).toEqual(E.sincos.shape);
    expect(relErr(withCls, f32(E.sincos))).toBeLessThan(1e-6);
    expect(Array.from(withCls.subarray(0, embed_dims))).toEqual(new Array(embed_dims).fill(0));
    const noCls = sincosPosEmbed(grid, embed_dims, false, temperature);
    expect([1, noCls.length / embed_dims, embed_dims]).toEqual(E.sincos_no_cls.shape);
    expect(relErr(noCls, f32(E.sincos_no_cls))).toBeLessThan(1e-6);
  });

  const r = fx.config.resize;
  const src = fx.inputs.pos_embed_src as JsonTensor;
  const C = src.shape[2];
  const entries = Object.keys(E).filter((k) => k.includes('resize'));

  test('every resize entry is covered', () => {
    expect(entries.length).toBeGreaterThanOrEqual(5);
    for (const k of entries) expect(k.endsWith('_sq') || k.endsWith('_rect'), k).toBe(true);
  });

  for (const name of entries) {
    test(`${name}: bicubic, align_corners=False, cls row kept`, () => {
      const dst: [number, number] = name.endsWith('_rect') ? r.dst_rect : r.dst_square;
      const got = resizePosEmbed(f32(src), r.src_grid, dst, C, r.num_extra_tokens);
      expect([1, got.length / C, C]).toEqual(E[name].shape);
      expect(relErr(got, f32(E[name]))).toBeLessThan(1e-4);
      expect(Array.from(got.subarray(0, C))).toEqual(Array.from(f32(src).subarray(0, C)));
    });
  }

  test('a wrong token count fails loudly', () => {
    // a grid one row taller than the fixture's source grid: never the right token count
    const wrong: [number, number] = [r.src_grid[0] + 1, r.src_grid[1]];
    expect(() => resizePosEmbed(f32(src), wrong, r.dst_square, C, r.num_extra_tokens)).toThrow(/tokens/);
  });
});
