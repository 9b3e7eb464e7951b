// The exemplar annotation being painted, held in the study's NATIVE voxel order (the order of
// the NIfTI file: i fastest, then j, then k), so saving needs no reorientation.
//
// Saving rule (shown in the page): every slice k (third voxel axis) that the person touched is
// saved with its painted labels and 0 ("background") everywhere else on that slice; slices never
// touched are saved as 255 ("not annotated") and ignored by training.

export const NOT_ANNOTATED = 255

export class LabelEditor {
  /** @param {number[]} dims [nx, ny, nz] native voxel counts */
  constructor(dims) {
    this.dims = dims.slice(0, 3)
    const [nx, ny, nz] = this.dims
    this.sliceSize = nx * ny
    this.lab = new Uint8Array(nx * ny * nz) // what is painted (0 = nothing / background)
    this.touched = new Uint8Array(nz) // 1 = slice k is annotated
    this.undoStack = []
    this.redoStack = []
    this.current = null
    this.dirty = false
    this.onChange = () => {}
  }

  index(i, j, k) {
    return i + this.dims[0] * (j + this.dims[1] * k)
  }

  inBounds(i, j, k) {
    const [nx, ny, nz] = this.dims
    return i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz
  }

  begin() {
    this.current = { changes: new Map(), newlyTouched: new Set(), after: new Map() }
  }

  _set(idx, k, value) {
    const a = this.current
    if (!this.touched[k]) {
      this.touched[k] = 1
      a.newlyTouched.add(k)
    }
    const old = this.lab[idx]
    if (old === value) return
    if (!a.changes.has(idx)) a.changes.set(idx, old)
    a.after.set(idx, value)
    this.lab[idx] = value
  }

  /** Paint a disc of radius r (voxels, in the i-j plane) centred on (i, j, k). */
  stamp(i, j, k, r, value) {
    if (!this.inBounds(i, j, k)) return
    const [nx, ny] = this.dims
    const r2 = r * r + 0.25
    for (let dj = -r; dj <= r; dj++) {
      const y = j + dj
      if (y < 0 || y >= ny) continue
      for (let di = -r; di <= r; di++) {
        const x = i + di
        if (x < 0 || x >= nx || di * di + dj * dj > r2) continue
        this._set(this.index(x, y, k), k, value)
      }
    }
  }

  /** Paint a line of discs from (i0, j0) to (i1, j1) on slice k (Bresenham). */
  line(i0, j0, i1, j1, k, r, value) {
    let dx = Math.abs(i1 - i0)
    let dy = -Math.abs(j1 - j0)
    const sx = i0 < i1 ? 1 : -1
    const sy = j0 < j1 ? 1 : -1
    let err = dx + dy
    for (;;) {
      this.stamp(i0, j0, k, r, value)
      if (i0 === i1 && j0 === j1) break
      const e2 = 2 * err
      if (e2 >= dy) {
        err += dy
        i0 += sx
      }
      if (e2 <= dx) {
        err += dx
        j0 += sy
      }
    }
  }

  /** Flood-fill (4-connected) the region of equal value around (i, j) on slice k only. */
  fill(i, j, k, value) {
    if (!this.inBounds(i, j, k)) return 0
    const [nx, ny] = this.dims
    const base = k * this.sliceSize
    const seed = this.lab[base + i + nx * j]
    if (!this.touched[k]) this._set(base + i + nx * j, k, seed)
    if (seed === value) return 0
    const seen = new Uint8Array(this.sliceSize)
    const stack = [i + nx * j]
    seen[i + nx * j] = 1
    let n = 0
    while (stack.length) {
      const p = stack.pop()
      this._set(base + p, k, value)
      n++
      const x = p % nx
      const y = (p - x) / nx
      const nb = []
      if (x > 0) nb.push(p - 1)
      if (x < nx - 1) nb.push(p + 1)
      if (y > 0) nb.push(p - nx)
      if (y < ny - 1) nb.push(p + nx)
      for (const q of nb) {
        if (!seen[q] && this.lab[base + q] === seed) {
          seen[q] = 1
          stack.push(q)
        }
      }
    }
    return n
  }

  /** Mark slice k as annotated without painting (unpainted voxels there = background). */
  touchSlice(k) {
    this.begin()
    if (!this.touched[k]) {
      this.touched[k] = 1
      this.current.newlyTouched.add(k)
    }
    this.end()
  }

  /** Clear slice k back to "not annotated". */
  untouchSlice(k) {
    this.begin()
    const base = k * this.sliceSize
    for (let p = 0; p < this.sliceSize; p++) this._set(base + p, k, 0)
    this.current.untouched = this.touched[k] ? [k] : []
    this.touched[k] = 0
    this.current.newlyTouched.delete(k)
    this.end()
  }

  end() {
    const a = this.current
    this.current = null
    if (!a) return
    if (a.changes.size === 0 && a.newlyTouched.size === 0 && !(a.untouched ?? []).length) return
    this.undoStack.push(a)
    if (this.undoStack.length > 200) this.undoStack.shift()
    this.redoStack = []
    this.dirty = true
    this.onChange()
  }

  undo() {
    const a = this.undoStack.pop()
    if (!a) return false
    for (const [idx, old] of a.changes) this.lab[idx] = old
    for (const k of a.newlyTouched) this.touched[k] = 0
    for (const k of a.untouched ?? []) this.touched[k] = 1
    this.redoStack.push(a)
    this.dirty = true
    this.onChange()
    return true
  }

  redo() {
    const a = this.redoStack.pop()
    if (!a) return false
    for (const [idx, v] of a.after) this.lab[idx] = v
    for (const k of a.newlyTouched) this.touched[k] = 1
    for (const k of a.untouched ?? []) this.touched[k] = 0
    this.undoStack.push(a)
    this.dirty = true
    this.onChange()
    return true
  }

  /**
   * Start from an existing label map on the same grid (native order). Values 255 mean "not
   * annotated": a slice is touched when it holds any value other than 255; remaining 255 voxels
   * on a touched slice become 0.
   */
  loadLabels(values) {
    if (values.length !== this.lab.length) throw new Error('label map does not match the study grid')
    const nz = this.dims[2]
    for (let k = 0; k < nz; k++) {
      const base = k * this.sliceSize
      let any = 0
      for (let p = 0; p < this.sliceSize; p++) {
        const v = values[base + p]
        if (v !== NOT_ANNOTATED) any = 1
        this.lab[base + p] = v === NOT_ANNOTATED ? 0 : v
      }
      this.touched[k] = any
    }
    this.undoStack = []
    this.redoStack = []
    this.dirty = true
    this.onChange()
  }

  clearAll() {
    this.lab.fill(0)
    this.touched.fill(0)
    this.undoStack = []
    this.redoStack = []
    this.dirty = false
    this.onChange()
  }

  touchedSlices() {
    const out = []
    this.touched.forEach((t, k) => t && out.push(k))
    return out
  }

  /** The label map to save: touched slices as painted (0 elsewhere), the rest 255. */
  toSaved() {
    const out = new Uint8Array(this.lab.length).fill(NOT_ANNOTATED)
    for (const k of this.touchedSlices()) {
      const base = k * this.sliceSize
      out.set(this.lab.subarray(base, base + this.sliceSize), base)
    }
    return out
  }

  /** Voxels with a label on touched slices, as [i, j, k, value] (used by the browser test). */
  paintedVoxels(limit = 1e6) {
    const out = []
    const [nx, ny] = this.dims
    for (const k of this.touchedSlices()) {
      const base = k * this.sliceSize
      for (let p = 0; p < this.sliceSize && out.length < limit; p++) {
        const v = this.lab[base + p]
        if (v) out.push([p % nx, Math.floor(p / nx) % ny, k, v])
      }
    }
    return out
  }
}
