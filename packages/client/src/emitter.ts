/**
 * A minimal typed event emitter. `on` returns the function that removes the listener. A listener
 * that throws does not stop the others or the client: its error is rethrown on its own task, so
 * it still reaches the console or `uncaughtException`.
 */
export class Emitter<E extends { [K in keyof E]: (...args: any[]) => void }> {
  private _l: { [K in keyof E]?: E[K][] } = {}

  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    ;(this._l[event] ??= []).push(listener)
    return () => {
      this._l[event] = this._l[event]!.filter((l) => l !== listener)
    }
  }

  protected _emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    for (const l of this._l[event] ?? []) {
      try {
        l(...args)
      } catch (err) {
        setTimeout(() => {
          throw err
        })
      }
    }
  }
}
