// What the page says about reference masks and a model's evaluation on them (pure functions, no
// DOM; node tests in test/evaluation.test.js). Shapes: docs/API.md, "Models" (GET
// /api/v1/models/{id}/evaluation) and StudyPublic.has_reference.

/** A Dice as the page shows it: three decimals, or '—' when there is none. */
export function fmtDice(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '—'
}

/** An HD95 in mm, or '—' (none: the organ is in neither or only one of mask and reference). */
export function fmtMm(v) {
  return typeof v === 'number' && Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : v.toFixed(0)} mm` : '—'
}

/** The short line of a model's row: "Dice 0.812 · 3 studies", or null when it was never evaluated. */
export function summaryText(summary) {
  if (!summary) return null
  const n = summary.n_studies ?? 0
  const studies = `${n} stud${n === 1 ? 'y' : 'ies'}`
  if (typeof summary.mean_dice !== 'number') return `no study scored${summary.n_excluded ? ` (${summary.n_excluded} excluded)` : ''}`
  return `Dice ${fmtDice(summary.mean_dice)} · ${studies}`
}

/**
 * One row per organ of the project, in label order, named and coloured as in the project:
 * [{ value, name, color, dice, hd95, nStudies, hd95Missing }] (dice/hd95 formatted).
 */
export function organRows(evaluation, project) {
  const labels = project?.labels ?? {}
  const classes = evaluation?.classes ?? {}
  const values = [...new Set([...Object.keys(labels), ...Object.keys(classes)])].sort((a, b) => Number(a) - Number(b))
  return values.map((v) => {
    const c = classes[v] ?? {}
    return {
      value: v,
      name: labels[v] ?? c.name ?? `label ${v}`,
      color: project?.colors?.[v] ?? '#999',
      dice: fmtDice(c.dice),
      hd95: fmtMm(c.hd95),
      nStudies: c.n_studies ?? 0,
      hd95Missing: c.hd95_missing ?? 0,
    }
  })
}

/**
 * One row per scored study, worst first (the study to look at first on top):
 * [{ id, name, mean, dice: [text per organ value of `values`] }].
 */
export function studyRows(evaluation, values) {
  const rows = [...(evaluation?.studies ?? [])]
  rows.sort((a, b) => (a.mean_dice ?? -1) - (b.mean_dice ?? -1) || String(a.name).localeCompare(String(b.name)))
  return rows.map((s) => ({ id: s.study_id, name: s.name, mean: fmtDice(s.mean_dice), dice: values.map((v) => fmtDice(s.dice?.[v])) }))
}

/** The studies with a reference that were not scored, one line each: "case_01: <reason>". */
export function notScoredLines(evaluation) {
  const line = (kind) => (x) => `${x.name ?? x.study_id} (${kind}): ${x.reason}`
  return [...(evaluation?.excluded ?? []).map(line('excluded')), ...(evaluation?.failed ?? []).map(line('could not be scored'))]
}

/**
 * The cohort table's reference badge: null without a reference; on an exemplar the badge says
 * that models trained on it are not measured on it.
 */
export function referenceBadge(study) {
  if (!study?.has_reference) return null
  if (study.is_exemplar) {
    return {
      text: 'reference · exemplar',
      title: 'A reference mask is stored, but this study is an exemplar: models trained on it are not measured on it '
        + '(that would measure training data).',
    }
  }
  return { text: 'reference', title: 'A reference mask (an expert’s complete label map) is stored: models are measured on it, never trained on it.' }
}
