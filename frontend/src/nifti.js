// Minimal NIfTI-1 writer for label maps (uint8), built on the study's own header so the
// saved file lies on exactly the study's voxel grid (same dims, same voxel order, same affine).

const DT_UINT8 = 2

/**
 * @param {Uint8Array} data  voxels in the file's native order (i fastest, then j, then k)
 * @param {object} ref       the study volume's header as NiiVue read it (nifti-reader-js NIFTI1):
 *                           dims, pixDims, affine (4x4 row-major, the world transform NiiVue uses),
 *                           qform_code, sform_code, quatern_b/c/d, qoffset_x/y/z, xyzt_units
 * @returns {Uint8Array} a complete single-file NIfTI-1 (.nii), 352-byte header + data
 */
export function niftiLabelMap(data, ref) {
  const [nx, ny, nz] = [ref.dims[1], ref.dims[2], ref.dims[3]]
  if (data.length !== nx * ny * nz) throw new Error(`label map has ${data.length} voxels, grid has ${nx * ny * nz}`)
  const buf = new ArrayBuffer(352 + data.length)
  const v = new DataView(buf)
  const le = true
  v.setInt32(0, 348, le)
  const dims = [3, nx, ny, nz, 1, 1, 1, 1]
  dims.forEach((d, i) => v.setInt16(40 + 2 * i, d, le))
  v.setInt16(70, DT_UINT8, le)
  v.setInt16(72, 8, le)
  const pix = [ref.pixDims?.[0] || 1, ...[1, 2, 3].map((i) => Math.abs(ref.pixDims?.[i] || 1)), 0, 0, 0, 0]
  pix[0] = pix[0] < 0 ? -1 : 1 // qfac
  pix.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le))
  v.setFloat32(108, 352, le) // vox_offset
  v.setFloat32(112, 1, le) // scl_slope
  v.setFloat32(116, 0, le) // scl_inter
  v.setUint8(123, (ref.xyzt_units ?? 10) & 0xff)
  v.setFloat32(124, 255, le) // cal_max
  v.setFloat32(128, 0, le) // cal_min
  const descrip = 'ELSNet annotation (255 = not annotated)'
  for (let i = 0; i < descrip.length && i < 79; i++) v.setUint8(148 + i, descrip.charCodeAt(i))
  const qform = ref.qform_code ?? 0
  const sformIn = ref.sform_code ?? 0
  // The affine NiiVue displays with comes from the sform when present, else from the qform:
  // store it as the sform so every reader (nibabel prefers the sform) sees the same grid.
  const sform = sformIn > 0 ? sformIn : qform > 0 ? qform : 0
  v.setInt16(252, qform, le)
  v.setInt16(254, sform, le)
  v.setFloat32(256, ref.quatern_b ?? 0, le)
  v.setFloat32(260, ref.quatern_c ?? 0, le)
  v.setFloat32(264, ref.quatern_d ?? 0, le)
  v.setFloat32(268, ref.qoffset_x ?? 0, le)
  v.setFloat32(272, ref.qoffset_y ?? 0, le)
  v.setFloat32(276, ref.qoffset_z ?? 0, le)
  const A = ref.affine
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, A[r][c], le)
  v.setUint8(344, 0x6e) // 'n'
  v.setUint8(345, 0x2b) // '+'
  v.setUint8(346, 0x31) // '1'
  v.setUint8(347, 0)
  const out = new Uint8Array(buf)
  out.set(data, 352)
  return out
}

/** gzip in the browser (CompressionStream); falls back to the plain bytes when unavailable. */
export async function gzip(bytes) {
  if (typeof CompressionStream === 'undefined') return { bytes, gz: false }
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))
  return { bytes: new Uint8Array(await new Response(stream).arrayBuffer()), gz: true }
}
