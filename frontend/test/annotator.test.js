// Unit tests for the painting model and the NIfTI writer (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { LabelEditor, NOT_ANNOTATED } from '../src/annotator.js'
import { niftiLabelMap } from '../src/nifti.js'

const at = (ed, i, j, k) => ed.lab[ed.index(i, j, k)]

test('a stroke marks only its slice; the saved map is 255 elsewhere and 0 around the paint', () => {
  const ed = new LabelEditor([8, 6, 4])
  ed.begin()
  ed.line(1, 2, 5, 2, 1, 0, 3)
  ed.end()
  assert.deepEqual(ed.touchedSlices(), [1])
  const saved = ed.toSaved()
  for (let i = 0; i < 8; i++) assert.equal(saved[ed.index(i, 2, 1)], i >= 1 && i <= 5 ? 3 : 0)
  assert.equal(saved[ed.index(0, 0, 1)], 0)
  assert.equal(saved[ed.index(0, 0, 0)], NOT_ANNOTATED)
  assert.equal(saved[ed.index(4, 2, 2)], NOT_ANNOTATED)
})

test('the brush is a disc of the given radius in the slice plane', () => {
  const ed = new LabelEditor([9, 9, 1])
  ed.begin()
  ed.stamp(4, 4, 0, 2, 1)
  ed.end()
  assert.equal(ed.paintedVoxels().length, 13) // |di|^2 + |dj|^2 <= 4.25
  assert.equal(at(ed, 6, 4, 0), 1)
  assert.equal(at(ed, 6, 6, 0), 0)
})

test('fill stays inside a closed outline and on its slice; undo and redo restore it', () => {
  const ed = new LabelEditor([7, 7, 2])
  ed.begin()
  for (const [a, b, c, d] of [[1, 1, 5, 1], [5, 1, 5, 5], [5, 5, 1, 5], [1, 5, 1, 1]]) ed.line(a, b, c, d, 0, 0, 2)
  ed.end()
  const outline = ed.paintedVoxels().length
  ed.begin()
  const n = ed.fill(3, 3, 0, 2)
  ed.end()
  assert.equal(n, 9)
  assert.equal(ed.paintedVoxels().length, outline + 9)
  assert.equal(at(ed, 0, 0, 0), 0)
  assert.equal(at(ed, 3, 3, 1), 0)
  ed.undo()
  assert.equal(ed.paintedVoxels().length, outline)
  ed.redo()
  assert.equal(ed.paintedVoxels().length, outline + 9)
  ed.undo()
  ed.undo()
  assert.deepEqual(ed.touchedSlices(), [])
})

test('loading a label map: slices with any value other than 255 are touched', () => {
  const ed = new LabelEditor([2, 2, 3])
  ed.loadLabels(Uint8Array.from([255, 255, 255, 255, 0, 1, 255, 0, 255, 255, 255, 255]))
  assert.deepEqual(ed.touchedSlices(), [1])
  assert.deepEqual([...ed.toSaved()], [255, 255, 255, 255, 0, 1, 0, 0, 255, 255, 255, 255])
})

test('mark slice as background, clear slice', () => {
  const ed = new LabelEditor([2, 2, 2])
  ed.touchSlice(1)
  assert.deepEqual([...ed.toSaved()], [255, 255, 255, 255, 0, 0, 0, 0])
  ed.untouchSlice(1)
  assert.deepEqual(ed.touchedSlices(), [])
})

test('the NIfTI-1 header keeps the grid: dims, pixdim, sform, qform, uint8', () => {
  const ref = {
    dims: [3, 4, 3, 2, 1, 1, 1, 1],
    pixDims: [-1, 1.25, 1.25, 7.7, 0, 0, 0, 0],
    affine: [[-1.25, 0, 0, 192.6], [0, 1.25, 0, -200.6], [0, 0, 7.7, -77], [0, 0, 0, 1]],
    qform_code: 1, sform_code: 1, quatern_b: 0, quatern_c: 1, quatern_d: 0,
    qoffset_x: 192.6, qoffset_y: -200.6, qoffset_z: -77, xyzt_units: 10,
  }
  const data = Uint8Array.from({ length: 24 }, (_, i) => i)
  const nii = niftiLabelMap(data, ref)
  const v = new DataView(nii.buffer)
  assert.equal(nii.length, 352 + 24)
  assert.equal(v.getInt32(0, true), 348)
  assert.deepEqual([1, 2, 3].map((i) => v.getInt16(40 + 2 * i, true)), [4, 3, 2])
  assert.equal(v.getInt16(70, true), 2) // DT_UINT8
  assert.equal(v.getInt16(72, true), 8)
  assert.equal(v.getFloat32(76, true), -1) // qfac
  assert.equal(Math.fround(v.getFloat32(84, true)), Math.fround(1.25))
  assert.equal(v.getFloat32(108, true), 352)
  assert.equal(v.getInt16(252, true), 1)
  assert.equal(v.getInt16(254, true), 1)
  assert.equal(v.getFloat32(280, true), -1.25)
  assert.equal(v.getFloat32(292, true), Math.fround(192.6))
  assert.equal(v.getFloat32(320, true), Math.fround(7.7))
  assert.equal(String.fromCharCode(nii[344], nii[345], nii[346]), 'n+1')
  assert.deepEqual([...nii.subarray(352)], [...data])
  assert.throws(() => niftiLabelMap(new Uint8Array(5), ref))
})
