import { TypedEmitter } from '../util/typed-emitter.js';
import type { Stream } from './stream.js';

interface RegistryEvents {
  publish: [stream: Stream];
  unpublish: [stream: Stream];
}

export class StreamNameTakenError extends Error {}

/** The published streams, by mediaSessionId and by name. */
export class StreamRegistry extends TypedEmitter<RegistryEvents> {
  readonly #bySession = new Map<string, Stream>();
  readonly #byName = new Map<string, Stream>();

  /** Adds a stream; a second publish of a live name is refused. */
  publish(stream: Stream): void {
    if (this.#byName.has(stream.name)) {
      throw new StreamNameTakenError(`Stream '${stream.name}' is already published`);
    }
    this.#bySession.set(stream.mediaSessionId, stream);
    this.#byName.set(stream.name, stream);
    this.emit('publish', stream);
  }

  /** Removes a stream (no-op when it is not registered) and tells the listeners. */
  unpublish(stream: Stream): void {
    if (this.#bySession.get(stream.mediaSessionId) !== stream) return;
    this.#bySession.delete(stream.mediaSessionId);
    this.#byName.delete(stream.name);
    stream.status = 'UNPUBLISHED';
    this.emit('unpublish', stream);
  }

  byMediaSessionId(id: string): Stream | undefined {
    return this.#bySession.get(id);
  }

  byName(name: string): Stream | undefined {
    return this.#byName.get(name);
  }

  all(): Stream[] {
    return [...this.#bySession.values()];
  }
}
