// Guidance for the annotator: which slice of an exemplar to paint next (pure functions, no DOM).
//
// Every training on an exemplar painted on a few slices records, per such study, the slice the
// trained model suggests painting next (model.metrics.next_slice_to_paint: [{study_id, slice,
// gap_mm, organ_extent}], slice = 0-based index along the study's third voxel axis).

/** The newest model's suggestion for this study: {slice, gap_mm, organ_extent, model_id} or null. */
export function nextSliceFor(models, studyId) {
  const newest = [...(models ?? [])].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  for (const m of newest) {
    const list = m?.metrics?.next_slice_to_paint
    if (!Array.isArray(list)) continue
    const hit = list.find((x) => x && x.study_id === studyId && Number.isInteger(x.slice))
    if (hit) return { slice: hit.slice, gap_mm: hit.gap_mm, organ_extent: hit.organ_extent, model_id: m.id }
    // a newer model trained on this study without a suggestion: the older one is out of date
    if ((m.exemplar_study_ids ?? []).includes(studyId)) return null
  }
  return null
}

/** What the page says about the suggestion; painted: whether that slice is annotated now. */
export function nextSliceText(s, painted) {
  const n = s.slice + 1 // the viewer counts slices from 1
  if (painted) return `Slice ${n} (the last training's suggestion) is annotated now: train again for the next suggestion.`
  const gap = Number.isFinite(s.gap_mm) ? `${Math.round(s.gap_mm)} mm` : 'a stretch'
  return `To improve the model most, paint slice ${n} next: it lies in the middle of ${gap} of the organs that no painted slice covers.`
}

/** After a training: "paint slice N of STUDY next" for the model's suggestions, or '' when none. */
export function trainingDoneHint(model, studies) {
  const list = model?.metrics?.next_slice_to_paint
  if (!Array.isArray(list) || !list.length) return ''
  const name = (id) => (studies ?? []).find((s) => s.id === id)?.name ?? id
  const parts = list.filter((x) => Number.isInteger(x?.slice)).map((x) => `slice ${x.slice + 1} of ${name(x.study_id)}`)
  return parts.length ? `To improve the model most, paint ${parts.join(' and ')} next (Annotate, then "Go to slice").` : ''
}

/** The newest training's completion of this study's painted slices: {model_id} or null.
 * model.metrics.completed_exemplars lists the studies whose few painted slices that training
 * carried into the whole study (GET .../studies/{id}/completion serves the label). A newer model
 * trained on the study without completing it (annotated on every slice now) hides older ones. */
export function completionFor(models, studyId) {
  const newest = [...(models ?? [])].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  for (const m of newest) {
    if ((m?.metrics?.completed_exemplars ?? []).includes(studyId)) return { model_id: m.id }
    if ((m?.exemplar_study_ids ?? []).includes(studyId)) return null
  }
  return null
}

/**
 * What a training's metrics say, in a few words for the Models table: how well the model fits its
 * own exemplar (a self-check, not an accuracy: that is the Accuracy column), the pseudo-labels'
 * confidence, the steps trained and the time. ``title``: every numeric metric, one per line.
 */
export function trainingSummary(metrics) {
  const m = metrics && typeof metrics === 'object' ? metrics : {}
  const num = (k) => (typeof m[k] === 'number' && Number.isFinite(m[k]) ? m[k] : null)
  const parts = []
  if (num('exemplar_dice_mean') !== null) parts.push(`fits its exemplar: Dice ${num('exemplar_dice_mean').toFixed(2)}`)
  if (num('pseudo_confidence') !== null) parts.push(`pseudo-labels ${num('pseudo_confidence').toFixed(2)} confident`)
  if (num('stage1_iters') !== null) {
    parts.push(`${num('stage1_iters')}${num('stage2_iters') !== null ? ` + ${num('stage2_iters')}` : ''} steps`)
  }
  if (num('fit_seconds') !== null) parts.push(`${Math.round(num('fit_seconds'))} s`)
  const title = Object.entries(m)
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .map(([k, v]) => `${k}: ${Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)}`)
    .join('\n')
  return { text: parts.join(' · '), title }
}

/**
 * The model's "not learned" warning: fit segments its own exemplar after training, and an organ
 * it does not reproduce there (metrics.organs_not_learned) will be missing from every mask.
 * Returns null when there is nothing to warn about.
 */
export function notLearnedText(metrics) {
  const missed = Array.isArray(metrics?.organs_not_learned) ? metrics.organs_not_learned : []
  if (!missed.length) return null
  return `not learned: ${missed.join(', ')}`
}

/**
 * The model's "check these" warning: stage 1 and the registration of the exemplar to the cohort
 * disagreed on these organs (Dice < 0.2), so stage 2 learned them from registration
 * (metrics.organs_from_registration); on the benchmark packs such organs nearly always came out
 * poor. Returns null when there is nothing to warn about.
 */
export function fromRegistrationText(metrics) {
  const organs = Array.isArray(metrics?.organs_from_registration) ? metrics.organs_from_registration : []
  if (!organs.length) return null
  return `check: ${organs.join(', ')}`
}

// A study whose confidence is this far below the median of the studies the same model segmented
// is marked "review first". The confidence ranks the studies of one model (within-fit Spearman
// rho, median over the benchmark fits: ACDC 0.71-0.84, CHAOS 0.37-0.42, Synapse 0.20-0.40); it
// is not an accuracy: nearly every study scores 0.8-0.97 whatever its Dice. Of the studies this
// rule marked in those fits, 75 % (ACDC) and 38 % (CHAOS) were >= 0.15 Dice below their fit's
// median study; on Synapse it marked 1 study of 372 (docs/benchmarks.md, Session 19).
export const REVIEW_FIRST_BELOW_MEDIAN = 0.03
const MIN_STUDIES_TO_RANK = 4

/**
 * The median mask confidence of each model over the studies it segmented:
 * Map model_id -> { median, n }. Computed once per table, not once per row.
 */
export function confidenceMedians(studies) {
  const byModel = new Map()
  for (const s of studies ?? []) {
    if (typeof s?.mask?.confidence !== 'number') continue
    const list = byModel.get(s.mask.model_id) ?? []
    list.push(s.mask.confidence)
    byModel.set(s.mask.model_id, list)
  }
  const out = new Map()
  for (const [model, list] of byModel) {
    list.sort((a, b) => a - b)
    const mid = list.length / 2
    out.set(model, { median: list.length % 2 ? list[Math.floor(mid)] : (list[mid - 1] + list[mid]) / 2, n: list.length })
  }
  return out
}

/**
 * How the cohort table shows a study's mask confidence, relative to the other studies the same
 * model segmented (medians: confidenceMedians of the table's studies):
 * { level: 'none' | 'err' | 'warn' | 'plain', text, title }.
 */
export function confidenceBadge(medians, study) {
  const conf = study?.mask?.confidence
  if (conf === undefined || conf === null) return { level: 'none', text: '—', title: '' }
  if (conf === 0) return { level: 'err', text: 'no organ', title: 'The model found no organ in this study: check it.' }
  const peers = medians?.get(study.mask.model_id) ?? { median: conf, n: 1 }
  const text = conf.toFixed(2)
  if (peers.n < MIN_STUDIES_TO_RANK) {
    return { level: 'plain', text, title: 'Model confidence: ranks the studies of one model; not an accuracy.' }
  }
  if (conf < peers.median - REVIEW_FIRST_BELOW_MEDIAN) {
    return {
      level: 'warn',
      text: `${text} · review first`,
      title: `Confidence ${(peers.median - conf).toFixed(2)} below the median of the ${peers.n} studies this model segmented: `
        + 'among the likeliest to be wrong. The confidence ranks studies; it is not an accuracy.',
    }
  }
  return { level: 'plain', text, title: `Model confidence (median over this model's ${peers.n} studies ${peers.median.toFixed(2)}): ranks studies; not an accuracy.` }
}
