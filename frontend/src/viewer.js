// NiiVue wrapper: shows a study, an editable label overlay, and maps mouse positions to the
// study's NATIVE voxel indices (the file's i, j, k), through NiiVue's own RAS reorientation
// (permRAS), so a painted voxel is exactly the one displayed under the pointer.

import { Niivue, NVImage, SLICE_TYPE, SHOW_RENDER, DRAG_MODE, MULTIPLANAR_TYPE } from '@niivue/niivue'

export const VIEWS = {
  axial: SLICE_TYPE.AXIAL,
  coronal: SLICE_TYPE.CORONAL,
  sagittal: SLICE_TYPE.SAGITTAL,
  multiplanar: SLICE_TYPE.MULTIPLANAR,
}

const VIEW_NAME = { 0: 'axial', 1: 'coronal', 2: 'sagittal' }

/** '#rrggbb' -> [r, g, b] */
export function hexRgb(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex ?? '')
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : [255, 0, 0]
}

export class Viewer {
  constructor(canvas) {
    this.canvas = canvas
    this.nv = null
    this.back = null
    this.overlay = null
    this.editable = false
    this.onLocation = () => {}
    this.onIntensity = () => {}
    this._renderQueued = false
  }

  async init() {
    this.nv = new Niivue({
      backColor: [0.05, 0.06, 0.08, 1],
      crosshairColor: [1, 0.85, 0.1, 0.7],
      show3Dcrosshair: false,
      isColorbar: false,
      isOrientCube: false,
      dragAndDropEnabled: false,
      multiplanarShowRender: SHOW_RENDER.NEVER,
      multiplanarLayout: MULTIPLANAR_TYPE.GRID,
      dragMode: DRAG_MODE.contrast,
      logLevel: 'warn',
    })
    await this.nv.attachToCanvas(this.canvas)
    this.nv.setRadiologicalConvention(true)
    this.nv.setSliceType(SLICE_TYPE.AXIAL)
    this.nv.onLocationChange = () => this.onLocation(this.location())
    this.nv.onIntensityChange = () => this.onIntensity(this.windowLevel())
  }

  /** Load a study (NIfTI bytes). Removes whatever was shown before. */
  async loadStudy(buffer, name) {
    const nv = this.nv
    for (const v of [...nv.volumes]) nv.removeVolume(v)
    nv.closeDrawing()
    this.overlay = null
    this.labels = null
    const back = await NVImage.loadFromUrl({ url: name, name, buffer, colormap: 'gray' })
    nv.addVolume(back)
    this.back = back
    return back
  }

  /** Native voxel counts [nx, ny, nz] of the loaded study. */
  dims() {
    const d = this.back.hdr.dims
    return [d[1], d[2], d[3]]
  }

  /** Read a label NIfTI (bytes) and return its native-order voxels, after checking its grid. */
  async readLabelFile(buffer, name) {
    const img = await NVImage.loadFromUrl({ url: name, name, buffer })
    const d = img.hdr.dims
    const [nx, ny, nz] = this.dims()
    if (d[1] !== nx || d[2] !== ny || d[3] !== nz) {
      throw new Error(`the label file is ${d[1]}×${d[2]}×${d[3]} voxels but the study is ${nx}×${ny}×${nz}`)
    }
    const a = img.hdr.affine
    const b = this.back.hdr.affine
    let maxDiff = 0
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) maxDiff = Math.max(maxDiff, Math.abs(a[r][c] - b[r][c]))
    if (maxDiff > 1e-2) throw new Error('the label file has a different orientation/affine than the study; it must be on the same grid')
    const out = new Uint8Array(nx * ny * nz)
    const src = img.img
    const slope = img.hdr.scl_slope || 1
    const inter = img.hdr.scl_inter || 0
    for (let p = 0; p < out.length; p++) out[p] = Math.round(src[p] * slope + inter)
    return out
  }

  /**
   * Show `labels` (native order; shared, not copied: later edits show after render()) in the
   * project's colours, through NiiVue's drawing layer (a uint8 texture in NiiVue's RAS voxel
   * order, cheap to re-upload while painting). NiiVue's own drawing tools stay disabled.
   */
  setOverlay(labels, project, opacity = 0.5) {
    const nv = this.nv
    this.labels = labels
    nv.setDrawingEnabled(false)
    nv.createEmptyDrawing()
    nv.setDrawColormap(this.labelColormap(project))
    nv.drawOpacity = opacity
    this.overlay = true
    this.syncLabels()
    nv.refreshDrawing(true)
  }

  /** Copy the native-order labels into NiiVue's RAS-order drawing bitmap (NiiVue's own img2RAS walk). */
  syncLabels() {
    const bmp = this.nv.drawBitmap
    const src = this.labels
    if (!bmp || !src) return
    const b = this.back
    const [nx, ny, nz] = [b.dimsRAS[1], b.dimsRAS[2], b.dimsRAS[3]]
    const step = b.img2RASstep
    const start = b.img2RASstart
    let r = 0
    for (let z = 0; z < nz; z++) {
      const zi = start[2] + z * step[2]
      for (let y = 0; y < ny; y++) {
        const yi = start[1] + y * step[1] + zi
        let xi = start[0] + yi
        for (let x = 0; x < nx; x++, xi += step[0]) bmp[r++] = src[xi]
      }
    }
  }

  labelColormap(project) {
    const values = Object.keys(project.labels ?? {}).map(Number)
    const max = Math.max(1, ...values)
    const cm = { R: [], G: [], B: [], A: [], I: [], labels: [] }
    for (let v = 0; v <= max; v++) {
      const [r, g, b] = hexRgb(project.colors?.[String(v)])
      cm.R.push(r)
      cm.G.push(g)
      cm.B.push(b)
      cm.A.push(v === 0 ? 0 : 255)
      cm.I.push(v)
      cm.labels.push(v === 0 ? '' : (project.labels?.[String(v)] ?? String(v)))
    }
    return cm
  }

  setOpacity(opacity) {
    this.nv.setDrawOpacity(opacity)
  }

  /** Redraw after the label voxels changed (coalesced to one texture upload per animation frame). */
  render() {
    if (this._renderQueued) return
    this._renderQueued = true
    requestAnimationFrame(() => {
      this._renderQueued = false
      this.syncLabels()
      this.nv.refreshDrawing(true)
    })
  }

  setView(name) {
    this.nv.setSliceType(VIEWS[name])
  }

  // ---- intensity window ----
  windowLevel() {
    const b = this.back
    if (!b) return null
    return { width: b.cal_max - b.cal_min, level: (b.cal_max + b.cal_min) / 2 }
  }

  setWindow(width, level) {
    this.back.cal_min = level - width / 2
    this.back.cal_max = level + width / 2
    this.nv.updateGLVolume()
    this.onIntensity(this.windowLevel())
  }

  /** MR auto: 0.5th..99.5th percentile of the non-zero voxels. */
  autoWindow() {
    const img = this.back.img
    const slope = this.back.hdr.scl_slope || 1
    const inter = this.back.hdr.scl_inter || 0
    const step = Math.max(1, Math.floor(img.length / 400000))
    const vals = []
    for (let p = 0; p < img.length; p += step) {
      const v = img[p] * slope + inter
      if (v !== 0 && Number.isFinite(v)) vals.push(v)
    }
    if (!vals.length) return
    vals.sort((a, b) => a - b)
    const lo = vals[Math.floor(0.005 * (vals.length - 1))]
    const hi = vals[Math.floor(0.995 * (vals.length - 1))]
    this.setWindow(Math.max(hi - lo, 1e-6), (hi + lo) / 2)
  }

  /** True when the image looks like CT in Hounsfield units: fat and air lie below -100 HU (even in
   * data clipped to an abdominal window), where MR intensities do not go. */
  looksLikeHU() {
    const img = this.back.img
    const slope = this.back.hdr.scl_slope || 1
    const inter = this.back.hdr.scl_inter || 0
    const step = Math.max(1, Math.floor(img.length / 200000))
    let low = 0
    let n = 0
    for (let p = 0; p < img.length; p += step, n++) if (img[p] * slope + inter <= -100) low++
    return low > 0.01 * n
  }

  // ---- coordinates ----
  /** RAS voxel (NiiVue's reoriented grid) -> native voxel [i, j, k]. */
  rasToNative(ras) {
    const perm = this.back.permRAS
    const nd = this.dims()
    const out = [0, 0, 0]
    for (let p = 0; p < 3; p++) {
      const a = Math.abs(perm[p]) - 1
      out[a] = perm[p] < 0 ? nd[a] - 1 - ras[p] : ras[p]
    }
    return out
  }

  nativeToRas(nat) {
    const perm = this.back.permRAS
    const nd = this.dims()
    const out = [0, 0, 0]
    for (let p = 0; p < 3; p++) {
      const a = Math.abs(perm[p]) - 1
      out[p] = perm[p] < 0 ? nd[a] - 1 - nat[a] : nat[a]
    }
    return out
  }

  /** The RAS axis along the file's third voxel axis (the slice axis of the annotation). */
  sliceRasAxis() {
    return this.back.permRAS.findIndex((p) => Math.abs(p) === 3)
  }

  /** The view (axial/coronal/sagittal) whose plane is the file's slice plane: paint there. */
  paintView() {
    return 2 - this.sliceRasAxis()
  }

  paintViewName() {
    return VIEW_NAME[this.paintView()]
  }

  /** Current crosshair position: native voxel and world mm. */
  location() {
    if (!this.back) return null
    const frac = this.nv.scene.crosshairPos
    const ras = this.nv.frac2vox(frac)
    const nat = this.rasToNative([ras[0], ras[1], ras[2]])
    const mm = this.nv.frac2mm(frac)
    return { native: nat, mm: [mm[0], mm[1], mm[2]] }
  }

  /** Move to native slice k (keeping the in-plane position). */
  goToSlice(k) {
    const loc = this.location()
    const nat = loc.native.slice()
    nat[2] = Math.max(0, Math.min(this.dims()[2] - 1, k))
    const ras = this.nativeToRas(nat)
    this.nv.scene.crosshairPos = this.nv.vox2frac(ras)
    this.nv.updateGLVolume()
    this.onLocation(this.location())
  }

  /** Step the slice shown in the current view (keyboard navigation). */
  step(delta) {
    let st = this.nv.opts.sliceType
    if (st === SLICE_TYPE.MULTIPLANAR || st === SLICE_TYPE.RENDER) st = this.paintView()
    const d = [0, 0, 0]
    d[2 - st] = delta
    this.nv.moveCrosshairInVox(d[0], d[1], d[2])
  }

  /** Canvas pixel (device px) of a mouse event. */
  eventCanvasXY(e) {
    const rect = this.canvas.getBoundingClientRect()
    const dpr = this.nv.uiData.dpr || window.devicePixelRatio || 1
    return [(e.clientX - rect.left) * dpr, (e.clientY - rect.top) * dpr]
  }

  /** Which 2D tile holds canvas point xy: {axCorSag} or null. */
  tileAt(xy) {
    for (const s of this.nv.screenSlices) {
      const [l, t, w, h] = s.leftTopWidthHeight
      const x0 = Math.min(l, l + w)
      const x1 = Math.max(l, l + w)
      const y0 = Math.min(t, t + h)
      const y1 = Math.max(t, t + h)
      if (xy[0] >= x0 && xy[0] <= x1 && xy[1] >= y0 && xy[1] <= y1 && s.axCorSag <= 2) return s
    }
    return null
  }

  /** Canvas point -> {native [i,j,k], mm [x,y,z], axCorSag} or null outside the image. */
  pick(xy) {
    if (!this.back) return null
    const tile = this.tileAt(xy)
    if (!tile) return null
    const frac = this.nv.canvasPos2frac(xy)
    if (frac[0] < 0 || frac[0] > 1 || frac[1] < 0 || frac[1] > 1 || frac[2] < 0 || frac[2] > 1) return null
    const ras = this.nv.frac2vox(frac)
    const native = this.rasToNative([ras[0], ras[1], ras[2]])
    const nd = this.dims()
    if (native.some((v, a) => v < 0 || v >= nd[a])) return null
    const mm = this.nv.frac2mm(frac)
    return { native, mm: [mm[0], mm[1], mm[2]], axCorSag: tile.axCorSag }
  }

  setRadiological(on) {
    this.nv.setRadiologicalConvention(on)
  }

  /** Screen (CSS) pixels per mm in the tile under canvas point xy, or null. */
  cssPxPerMm(xy) {
    const dpr = this.nv.uiData.dpr || 1
    const a = this.pick(xy)
    const b = this.pick([xy[0] + 20 * dpr, xy[1]]) ?? this.pick([xy[0] - 20 * dpr, xy[1]])
    if (!a || !b) return null
    const d = Math.hypot(a.mm[0] - b.mm[0], a.mm[1] - b.mm[1], a.mm[2] - b.mm[2])
    return d > 0 ? 20 / d : null
  }

  /** In-plane voxel size (mm) of the annotation plane. */
  inPlaneSpacing() {
    const p = this.back.hdr.pixDims
    return (Math.abs(p[1]) + Math.abs(p[2])) / 2
  }

  /** The CSS-pixel rectangle of the first tile showing `view` (for tests and the brush cursor). */
  tileRectCss(axCorSag = this.paintView()) {
    const dpr = this.nv.uiData.dpr || 1
    const s = this.nv.screenSlices.find((t) => t.axCorSag === axCorSag)
    if (!s) return null
    const [l, t, w, h] = s.leftTopWidthHeight
    const rect = this.canvas.getBoundingClientRect()
    return {
      left: rect.left + Math.min(l, l + w) / dpr,
      top: rect.top + Math.min(t, t + h) / dpr,
      width: Math.abs(w) / dpr,
      height: Math.abs(h) / dpr,
    }
  }
}
