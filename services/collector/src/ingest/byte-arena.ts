/**
 * A growable byte buffer: a batch copies each message's payload and lines into one of these rather
 * than keeping a buffer or string per message, so that holding thousands of messages costs the
 * garbage collector a few objects instead of thousands.
 */
export class ByteArena {
  private buffer: Buffer;
  private used = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** An arena holding these bytes (as received from another thread), without copying them. */
  static of(bytes: Uint8Array): ByteArena {
    const arena = new ByteArena(0);
    arena.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    arena.used = bytes.byteLength;
    return arena;
  }

  /** Bytes written so far: where the next write starts. */
  get length(): number {
    return this.used;
  }

  append(bytes: Uint8Array): number {
    this.reserve(bytes.byteLength);
    this.buffer.set(bytes, this.used);
    this.used += bytes.byteLength;
    return this.used;
  }

  /** Appends the text as UTF-8; returns the new length. */
  appendString(text: string): number {
    // UTF-8 needs at most three bytes per UTF-16 unit.
    this.reserve(text.length * 3);
    this.used += this.buffer.write(text, this.used);
    return this.used;
  }

  appendByte(byte: number): number {
    this.reserve(1);
    this.buffer[this.used] = byte;
    this.used += 1;
    return this.used;
  }

  /** The bytes from `start` to `end`, without copying (bytes once written never change). */
  view(start: number, end: number): Buffer {
    return this.buffer.subarray(start, end);
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + bytes));
    this.buffer.copy(grown, 0, 0, this.used);
    this.buffer = grown;
  }
}
