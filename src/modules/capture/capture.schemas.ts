import { Type } from 'typebox';
import type { JobRow } from '../../platform/jobs/jobs.ts';

/** A capture job as the API shows it: state, progress, attempts, the entries it made and its errors. */
export const Job = Type.Object({
  id: Type.String({ format: 'uuid' }),
  kind: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
  progress: Type.Integer(),
  attempts: Type.Integer(),
  max_attempts: Type.Integer(),
  entry_ids: Type.Array(Type.String()),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});

/** The API view of a job row. */
export function presentJob(j: JobRow) {
  const entryIds = Array.isArray((j.result as { entry_ids?: unknown } | null)?.entry_ids) ? ((j.result as { entry_ids: string[] }).entry_ids) : [];
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    progress: j.progress,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    entry_ids: entryIds,
    result: j.result ?? null,
    error: (j.error as Record<string, unknown> | null) ?? null,
    created_at: j.createdAt.toISOString(),
    started_at: j.startedAt?.toISOString() ?? null,
    finished_at: j.finishedAt?.toISOString() ?? null,
  };
}

