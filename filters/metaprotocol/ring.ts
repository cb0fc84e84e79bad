// A FIFO queue of plain values in one growable array, for per-connection queues that may hold
// tens of thousands of entries without an object per entry.
const FIRST_CAPACITY = 16;
/** An emptied ring larger than this gives its array back, so one deep burst is not kept for life. */
const KEEP_CAPACITY = 1024;

export class Ring<T> {
  private items: StaticArray<T> = new StaticArray<T>(0);
  private head: i32 = 0;
  length: i32 = 0;

  push(value: T): void {
    if (this.length == this.items.length) this.grow();
    const mask = this.items.length - 1;
    unchecked(this.items[(this.head + this.length) & mask] = value);
    this.length++;
  }

  /** The oldest value; the ring must not be empty. */
  first(): T {
    return unchecked(this.items[this.head]);
  }

  setFirst(value: T): void {
    unchecked(this.items[this.head] = value);
  }

  /** The newest value; the ring must not be empty. */
  last(): T {
    return unchecked(this.items[(this.head + this.length - 1) & (this.items.length - 1)]);
  }

  setLast(value: T): void {
    unchecked(this.items[(this.head + this.length - 1) & (this.items.length - 1)] = value);
  }

  /** Removes and returns the oldest value; the ring must not be empty. */
  shift(): T {
    const value = unchecked(this.items[this.head]);
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    if (this.length == 0) this.clear();
    return value;
  }

  /** The i-th oldest value. */
  at(i: i32): T {
    return unchecked(this.items[(this.head + i) & (this.items.length - 1)]);
  }

  clear(): void {
    this.head = 0;
    this.length = 0;
    if (this.items.length > KEEP_CAPACITY) this.items = new StaticArray<T>(0);
  }

  /** Bytes held by the array (for memory reports). */
  get capacityBytes(): i32 {
    return this.items.length * sizeof<T>();
  }

  private grow(): void {
    const old = this.items;
    const capacity = old.length == 0 ? FIRST_CAPACITY : old.length * 2;
    const grown = new StaticArray<T>(capacity);
    for (let i = 0; i < this.length; i++) unchecked(grown[i] = old[(this.head + i) & (old.length - 1)]);
    this.items = grown;
    this.head = 0;
  }
}
