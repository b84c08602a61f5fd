import type { StreamMessage } from '../protocol/messages.js'

/** Lets a layer above the core (jobs) add to what a subscriber of a stream sees. */
export interface StreamHooks {
  /**
   * JSON text of a message sent to a new subscriber of `stream` after its backlog (the stream's
   * current state: a job's snapshot), and to a subscriber whose history cannot be served;
   * undefined when this hook has nothing for the stream. `after` is the last message the
   * subscriber got from the backlog: a hook may have nothing to add to it (a job's final event).
   */
  snapshot(stream: string, after?: StreamMessage): string | undefined | Promise<string | undefined>
}
