import pino, { type Logger } from 'pino'
import type { LogLevel } from '../config/schema.js'

/** libwebsockets' levels (err, warn, notice, info, debug) as pino levels; notice is the default. */
const LEVELS = { err: 50, warn: 40, notice: 35, info: 30, debug: 20 } as const

export type HeraldLogger = Logger<keyof typeof LEVELS>

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): HeraldLogger {
  return pino(
    {
      name: 'herald',
      level,
      customLevels: LEVELS,
      useOnlyCustomLevels: true,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 2, sync: false }),
  ) as HeraldLogger
}
