// DICOM values as a person reads them (pure functions; unit-tested with node --test).

/** DICOM person names come as "Family^Given": shown as "Family, Given". */
export function personName(v) {
  if (!v) return ''
  const [family, given] = String(v).split('^')
  return given ? `${family}, ${given}` : family
}

/** YYYYMMDD -> YYYY-MM-DD (other forms unchanged). */
export function dicomDate(v) {
  return /^\d{8}$/.test(v ?? '') ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}` : (v ?? '')
}
