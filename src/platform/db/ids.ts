import { v7 } from 'uuid';

/** A new time-ordered UUID (v7): ids sort by creation time and index well. */
export function newId(): string {
  return v7();
}
