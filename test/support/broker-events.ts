import type { StreamMessage } from '../../src/protocol/messages.js'

/** BrokerEvents that record what a broker delivers: its live messages and its control messages. */
export function recordingEvents() {
  return {
    messages: [] as StreamMessage[],
    notes: [] as [string, string][],
    message(m: StreamMessage) { this.messages.push(m) },
    notified(topic: string, payload: string) { this.notes.push([topic, payload]) },
  }
}
