// A job's state as the page reads it (pure, no DOM; used by the buttons that show a job's progress).

/** True while a job of `kind` is queued or running (still worth following). */
export function isLiveJob(job, kind) {
  return job?.kind === kind && ['queued', 'running'].includes(job.state)
}
